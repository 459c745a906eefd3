import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { countPending, DeliveryStore, type AttemptRecord, type ClaimSlot } from '../src/delivery/store.js';
import { openTestDatabase, TEST_DATABASE, type OpenTestDatabase } from './helpers/database.js';
import { tempDir } from './helpers/service.js';

const WEBHOOKS = ['wh_a', 'wh_b'];
const NOW = 1_000_000;

async function seed(test: OpenTestDatabase, perWebhook: number): Promise<string[]> {
  const { db } = test;
  await db.deleteFrom('deliveries').execute();
  await db.deleteFrom('events').execute();
  await db.deleteFrom('webhooks').execute();
  for (const id of WEBHOOKS) {
    await db
      .insertInto('webhooks')
      .values({
        id,
        name: id,
        url: 'http://127.0.0.2:9/hook',
        event_types: '["submission"]',
        headers: '{}',
        secret: 'c2VjcmV0',
        is_active: 1,
        follow_redirects: 0,
        created_by: 'test',
        created_at: NOW,
        updated_at: NOW,
        last_triggered: null,
      })
      .execute();
  }

  const ids: string[] = [];
  for (let n = 0; n < perWebhook; n++) {
    const eventId = `evt_${String(n).padStart(5, '0')}`;
    await db
      .insertInto('events')
      .values({ id: eventId, type: 'submission', payload: '{}', request_id: null, created_at: NOW })
      .execute();
    const rows = WEBHOOKS.map((webhookId) => ({
      id: `dlv_${webhookId}_${String(n).padStart(5, '0')}`,
      event_id: eventId,
      webhook_id: webhookId,
      status: 'pending' as const,
      attempt_count: 0,
      next_attempt_at: NOW - n,
      created_at: NOW,
      updated_at: NOW,
      completed_at: null,
    }));
    await db.insertInto('deliveries').values(rows).execute();
    ids.push(...rows.map((row) => row.id));
  }
  return ids;
}

function success(deliveryId: string, webhookId: string, finishedAt: number): AttemptRecord {
  return {
    deliveryId,
    webhookId,
    attemptNumber: 1,
    trigger: 'automatic',
    startedAt: finishedAt - 5,
    durationMs: 5,
    statusCode: 204,
    errorKind: null,
    error: null,
    requestHeaders: {},
    excerpt: null,
    status: 'succeeded',
    nextAttemptAt: null,
    finishedAt,
  };
}

const slots = (limit: number): ClaimSlot[] => WEBHOOKS.map((webhookId) => ({ webhookId, limit }));

describe(`delivery claims on ${TEST_DATABASE}`, () => {
  let test: OpenTestDatabase;

  before(async () => {
    test = await openTestDatabase(tempDir());
  });
  after(async () => {
    await test.close();
  });

  it('counts pending deliveries in chunks', async () => {
    await seed(test, 150);
    await new DeliveryStore(test.db, test.dialect).claim(slots(5), 10, NOW, NOW + 60_000);
    // 300 seeded, 10 of them now in flight; chunks that end inside a webhook, at its end,
    // at the last row, and past it.
    for (const chunk of [7, 150, 290, 1_000]) {
      assert.equal(await countPending(test.db, chunk), 290, `chunk ${chunk}`);
    }
  });

  describe('with several stores', () => {
    let all: string[];
    beforeEach(async () => {
      all = await seed(test, 150);
    });

    it('hands each delivery to one store', async () => {
      const stores = Array.from({ length: 4 }, () => new DeliveryStore(test.db, test.dialect));
      const claimedBy = new Map<string, string>();
      await Promise.all(
        stores.map(async (store) => {
          for (;;) {
            const claimed = await store.claim(slots(7), 10, NOW, NOW + 60_000);
            if (claimed.length === 0) return;
            for (const row of claimed) {
              assert.equal(claimedBy.get(row.id), undefined, `${row.id} was claimed twice`);
              claimedBy.set(row.id, store.leaseOwner);
            }
          }
        }),
      );
      assert.equal(claimedBy.size, all.length);

      const owners = await test.db
        .selectFrom('deliveries')
        .select(['id', 'lease_owner', 'status'])
        .execute();
      for (const row of owners) {
        assert.equal(row.status, 'delivering');
        assert.equal(row.lease_owner, claimedBy.get(row.id));
      }
    });

    it('takes the oldest due rows per webhook first', async () => {
      const store = new DeliveryStore(test.db, test.dialect);
      const claimed = await store.claim(slots(2), 10, NOW, NOW + 60_000);
      const ids = claimed.map((row) => row.id).sort();
      assert.deepEqual(ids, ['dlv_wh_a_00148', 'dlv_wh_a_00149', 'dlv_wh_b_00148', 'dlv_wh_b_00149']);
    });
  });

  describe('after a lease expires', () => {
    beforeEach(async () => {
      await seed(test, 1);
    });

    it('passes the delivery to another store and drops the first result', async () => {
      const first = new DeliveryStore(test.db, test.dialect);
      const second = new DeliveryStore(test.db, test.dialect);
      const onlyA = slots(1).slice(0, 1);
      const [taken] = await first.claim(onlyA, 1, NOW, NOW + 100);
      assert.ok(taken);

      assert.deepEqual(await second.claim(onlyA, 5, NOW + 50, NOW + 1_000), []);
      assert.equal(await second.reapExpiredLeases(NOW + 200), 1);
      const [retaken] = await second.claim(onlyA, 1, NOW + 200, NOW + 10_000);
      assert.equal(retaken?.id, taken.id);

      await first.recordAttempts([success(taken.id, taken.webhook_id, NOW + 300)]);
      const stillLeased = await test.db
        .selectFrom('deliveries')
        .select(['status', 'lease_owner'])
        .where('id', '=', taken.id)
        .executeTakeFirstOrThrow();
      assert.equal(stillLeased.status, 'delivering');
      assert.equal(stillLeased.lease_owner, second.leaseOwner);

      await second.recordAttempts([success(taken.id, taken.webhook_id, NOW + 400)]);
      const attempts = await test.db
        .selectFrom('delivery_attempts')
        .select(['delivery_id', 'started_at'])
        .execute();
      assert.deepEqual(attempts, [{ delivery_id: taken.id, started_at: NOW + 395 }]);
      const webhook = await test.db
        .selectFrom('webhooks')
        .select(['trigger_count', 'last_triggered'])
        .where('id', '=', taken.webhook_id)
        .executeTakeFirstOrThrow();
      assert.deepEqual(webhook, { trigger_count: 1, last_triggered: NOW + 400 });
    });
  });

  describe('writing results back', () => {
    beforeEach(async () => {
      await seed(test, 80);
    });

    it('writes results across chunks', async () => {
      const store = new DeliveryStore(test.db, test.dialect);
      const claimed = await store.claim(slots(80), 200, NOW, NOW + 60_000);
      assert.equal(claimed.length, 160);

      // Another store now has the lease of one delivery, and another delivery was deleted.
      const [takenOver, deleted, ...mine] = claimed;
      assert.ok(takenOver);
      assert.ok(deleted);
      const other = new DeliveryStore(test.db, test.dialect);
      await test.db
        .updateTable('deliveries')
        .set({ lease_owner: other.leaseOwner })
        .where('id', '=', takenOver.id)
        .execute();
      await test.db.deleteFrom('deliveries').where('id', '=', deleted.id).execute();

      const records = claimed.map((row, index): AttemptRecord => {
        const base = success(row.id, row.webhook_id, NOW + 1_000 + index);
        if (index % 3 === 1) {
          const retry = { statusCode: 503, errorKind: 'http_status', error: `busy ${index}` };
          return { ...base, ...retry, attemptNumber: 2, status: 'pending', nextAttemptAt: NOW + 90_000 + index };
        }
        if (index % 3 === 2) {
          const failure = { statusCode: null, errorKind: 'timeout', error: `timed out ${index}` };
          return { ...base, ...failure, attemptNumber: 3, status: 'failed' };
        }
        return base;
      });
      await store.recordAttempts(records);

      const rows = await test.db
        .selectFrom('deliveries')
        .select([
          'id',
          'status',
          'attempt_count',
          'next_attempt_at',
          'last_status_code',
          'last_error',
          'updated_at',
          'completed_at',
          'lease_owner',
          'lease_until',
        ])
        .execute();
      const byId = new Map(rows.map((row) => [row.id, row]));
      assert.equal(byId.get(takenOver.id)?.status, 'delivering', 'a lease held by another store is left alone');
      assert.equal(byId.has(deleted.id), false);
      for (const row of mine) {
        const index = claimed.indexOf(row);
        const record = records[index]!;
        const expected = {
          id: row.id,
          status: record.status,
          attempt_count: record.attemptNumber,
          next_attempt_at: record.nextAttemptAt ?? record.finishedAt,
          last_status_code: record.statusCode,
          last_error: record.error,
          updated_at: record.finishedAt,
          completed_at: record.status === 'pending' ? null : record.finishedAt,
          lease_owner: null,
          lease_until: null,
        };
        // PostgreSQL returns bigint columns as strings.
        const actual = byId.get(row.id)!;
        const completedAt = actual.completed_at === null ? null : Number(actual.completed_at);
        const times = { next_attempt_at: Number(actual.next_attempt_at), updated_at: Number(actual.updated_at) };
        assert.deepEqual({ ...actual, ...times, completed_at: completedAt }, expected);
      }

      const attempts = await test.db.selectFrom('delivery_attempts').select('delivery_id').execute();
      assert.deepEqual(
        attempts.map((attempt) => attempt.delivery_id).sort(),
        mine.map((row) => row.id).sort(),
        'attempts are stored for the written results only',
      );
    });
  });

  describe('webhook counters in the write-back', () => {
    const failure = (deliveryId: string, webhookId: string, finishedAt: number): AttemptRecord => ({
      ...success(deliveryId, webhookId, finishedAt),
      statusCode: 500,
      errorKind: 'http_error',
      error: 'HTTP 500',
      status: 'pending',
      nextAttemptAt: finishedAt + 60_000,
    });

    /** Claims one delivery per call, so each batch below writes a fresh lease. */
    async function claimOne(store: DeliveryStore, now: number): Promise<string> {
      const [claimed] = await store.claim([{ webhookId: 'wh_a', limit: 1 }], 1, now, now + 60_000);
      assert.ok(claimed, 'a due delivery of wh_a');
      return claimed.id;
    }

    async function webhookRow() {
      const row = await test.db
        .selectFrom('webhooks')
        .select(['trigger_count', 'last_triggered', 'failing_since'])
        .where('id', '=', 'wh_a')
        .executeTakeFirstOrThrow();
      // PostgreSQL returns bigint columns as strings.
      const number = (value: unknown) => (value === null ? null : Number(value));
      return {
        trigger_count: Number(row.trigger_count),
        last_triggered: number(row.last_triggered),
        failing_since: number(row.failing_since),
      };
    }

    beforeEach(async () => {
      await seed(test, 6);
    });

    it('counts successes and moves the failure streak', async () => {
      const store = new DeliveryStore(test.db, test.dialect);

      await store.recordAttempts([failure(await claimOne(store, NOW), 'wh_a', NOW + 10)]);
      assert.deepEqual(await webhookRow(), { trigger_count: 0, last_triggered: null, failing_since: NOW + 10 });

      await store.recordAttempts([failure(await claimOne(store, NOW), 'wh_a', NOW + 20)]);
      assert.deepEqual(await webhookRow(), { trigger_count: 0, last_triggered: null, failing_since: NOW + 10 });

      const first = await claimOne(store, NOW);
      const second = await claimOne(store, NOW);
      await store.recordAttempts([success(first, 'wh_a', NOW + 40), success(second, 'wh_a', NOW + 30)]);
      assert.deepEqual(await webhookRow(), { trigger_count: 2, last_triggered: NOW + 40, failing_since: null });

      const third = await claimOne(store, NOW);
      const fourth = await claimOne(store, NOW);
      await store.recordAttempts([success(third, 'wh_a', NOW + 50), failure(fourth, 'wh_a', NOW + 60)]);
      assert.deepEqual(await webhookRow(), { trigger_count: 3, last_triggered: NOW + 50, failing_since: NOW + 60 });
    });
  });

  describe('at start', () => {
    beforeEach(async () => {
      await seed(test, 1);
    });

    it('releases live leases only when one process owns the database', async () => {
      const running = new DeliveryStore(test.db, test.dialect);
      const claimed = await running.claim(slots(1), 5, NOW, NOW + 60_000);
      assert.equal(claimed.length, 2);

      const starting = new DeliveryStore(test.db, test.dialect);
      const released = await starting.recoverInFlight(NOW + 1);
      assert.equal(released, test.dialect.singleProcess ? 2 : 0);
      assert.equal(await starting.recoverInFlight(NOW + 60_001), test.dialect.singleProcess ? 0 : 2);
    });
  });
});
