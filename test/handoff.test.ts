import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { DeliverySender } from '../src/delivery/sender.js';
import { generateSecret } from '../src/delivery/signature.js';
import { DeliveryStore, type ClaimedDelivery, type ClaimSlot } from '../src/delivery/store.js';
import { DeliveryWorker } from '../src/delivery/worker.js';
import { inTransactionWithHandoff, recordEvent } from '../src/events/service.js';
import { createLogger } from '../src/observability/logger.js';
import { AddressPolicy } from '../src/outbound/address-policy.js';
import { OutboundClient } from '../src/outbound/client.js';
import { openTestDatabase, TEST_DATABASE, type OpenTestDatabase } from './helpers/database.js';
import { eventually, startReceiver } from './helpers/receiver.js';
import { ALLOWED_CIDR, RECEIVER_HOST, tempDir } from './helpers/service.js';

const CAP = 2;

/** A store that counts what its claims returned, to tell claimed deliveries from handed-over ones. */
class CountingStore extends DeliveryStore {
  claimed = 0;
  /** While set, each claim waits for it after its query, as a slow claim would. */
  gate: Promise<void> | undefined;
  claimsStarted = 0;

  override async claim(slots: readonly ClaimSlot[], total: number, now: number, leaseUntil: number): Promise<ClaimedDelivery[]> {
    this.claimsStarted += 1;
    const rows = await super.claim(slots, total, now, leaseUntil);
    if (this.gate) await this.gate;
    this.claimed += rows.length;
    return rows;
  }
}

/** Starts a receiver that delays every response until the test releases it, then responds 204. */
async function startHoldingReceiver() {
  const held: Array<() => void> = [];
  const ids: string[] = [];
  let holding = false;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      ids.push(String(req.headers['webhook-id']));
      const answer = () => res.writeHead(204).end();
      if (holding) held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, RECEIVER_HOST, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${RECEIVER_HOST}:${port}/hook`,
    ids,
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const answer of held.splice(0)) answer();
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe(`handing new deliveries to the worker on ${TEST_DATABASE}`, () => {
  let test: OpenTestDatabase;
  let receiver: Awaited<ReturnType<typeof startHoldingReceiver>>;
  let outbound: OutboundClient;
  let store: CountingStore;
  let worker: DeliveryWorker;

  before(async () => {
    test = await openTestDatabase(tempDir());
    receiver = await startHoldingReceiver();
    outbound = new OutboundClient({
      policy: new AddressPolicy([ALLOWED_CIDR]),
      timeoutMs: 5_000,
      connectionsPerOrigin: 8,
    });
  });
  after(async () => {
    await outbound.close();
    await receiver.close();
    await test.close();
  });

  beforeEach(async () => {
    await test.db.deleteFrom('delivery_attempts').execute();
    await test.db.deleteFrom('deliveries').execute();
    await test.db.deleteFrom('events').execute();
    await test.db.deleteFrom('webhooks').execute();
    receiver.ids.length = 0;
    store = new CountingStore(test.db, test.dialect);
    worker = new DeliveryWorker(test.db, store, new DeliverySender(outbound), createLogger('silent'), {
      maxInFlight: 8,
      endpointConcurrency: CAP,
      retryScheduleMs: [0, 60_000],
      timeoutMs: 5_000,
      pollIntervalMs: 60_000,
    });
  });
  afterEach(async () => {
    receiver.release();
    await worker.stop(5_000);
  });

  async function addWebhook(id: string, extra: { is_ordered?: number; rate_limit?: number } = {}): Promise<void> {
    const now = Date.now();
    await test.db
      .insertInto('webhooks')
      .values({
        id,
        name: id,
        url: receiver.url,
        event_types: '["submission"]',
        headers: '{}',
        secret: generateSecret(),
        is_active: 1,
        follow_redirects: 0,
        created_by: 'test',
        created_at: now,
        updated_at: now,
        last_triggered: null,
        ...extra,
      })
      .execute();
  }

  /**
   * Records one event in a transaction with a handoff to the worker and returns its
   * deliveries with the status the commit wrote, read before the worker is woken.
   */
  async function record(options: { failAfter?: boolean } = {}): Promise<Array<{ id: string; status: string }>> {
    const event = await inTransactionWithHandoff(test.db, () => worker.openHandoff(), async (trx, handoff) => {
      const recorded = await recordEvent(trx, {
        type: 'submission',
        body: {},
        requestId: null,
        now: Date.now(),
        firstDelayMs: 0,
        handoff,
      });
      if (options.failAfter) throw new Error('rolled back on purpose');
      return recorded;
    });
    const rows = await test.db
      .selectFrom('deliveries')
      .select(['id', 'status'])
      .where('event_id', '=', event.id)
      .execute();
    if (event.queuedCount > 0) worker.wake();
    return rows;
  }

  async function statusOf(deliveryId: string) {
    return test.db
      .selectFrom('deliveries')
      .select(['status', 'lease_owner', 'attempt_count'])
      .where('id', '=', deliveryId)
      .executeTakeFirstOrThrow();
  }

  /** Starts the worker and waits until its first claim has found the queue empty. */
  async function startCaughtUp(): Promise<void> {
    await worker.start();
    await eventually(async () => (worker.loopState.lastLoopAt > 0 && !(await busy()) ? true : undefined), 5_000, 'a first claim');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  async function busy(): Promise<boolean> {
    const open = await test.db.selectFrom('deliveries').select('id').where('status', 'in', ['pending', 'delivering']).execute();
    return open.length > 0;
  }

  async function succeeded(ids: readonly string[]): Promise<void> {
    await eventually(
      async () => {
        for (const id of ids) if ((await statusOf(id)).status !== 'succeeded') return undefined;
        return true;
      },
      5_000,
      `deliveries ${ids.join(', ')} to succeed`,
    );
  }

  it('queues before the first claim', async () => {
    await addWebhook('wh_a');
    const [delivery] = await record();
    assert.equal(delivery?.status, 'pending');

    await worker.start();
    await succeeded([delivery?.id as string]);
    assert.equal(store.claimed, 1);
  });

  it('sends a taken delivery unclaimed', async () => {
    await addWebhook('wh_a');
    await startCaughtUp();
    receiver.hold();
    const [delivery] = await record();
    const id = delivery?.id as string;

    // Written as delivering under this worker's lease by the same commit as the event.
    assert.equal(delivery?.status, 'delivering');
    assert.equal((await statusOf(id)).lease_owner, store.leaseOwner);

    receiver.release();
    await succeeded([id]);
    assert.equal(store.claimed, 0);
    assert.equal(receiver.ids.length, 1);
    const attempts = await test.db
      .selectFrom('delivery_attempts')
      .select('attempt_number')
      .where('delivery_id', '=', id)
      .execute();
    assert.deepEqual(attempts, [{ attempt_number: 1 }]);
  });

  it('queues past the cap, then resumes', async () => {
    await addWebhook('wh_a');
    await startCaughtUp();
    receiver.hold();

    const first = [...(await record()), ...(await record())];
    for (const delivery of first) assert.equal(delivery.status, 'delivering');
    const queued = [...(await record()), ...(await record())];
    for (const delivery of queued) assert.equal(delivery.status, 'pending');
    await eventually(async () => (receiver.ids.length === CAP ? true : undefined), 5_000, 'both held requests');

    receiver.release();
    await succeeded([...first, ...queued].map((delivery) => delivery.id));
    assert.equal(store.claimed, 2);

    // The claim that took the queued two found nothing more, so the next is taken again.
    await new Promise((resolve) => setTimeout(resolve, 50));
    receiver.hold();
    const [fifth] = await record();
    assert.equal(fifth?.status, 'delivering');
    receiver.release();
    await succeeded([fifth?.id as string]);
    assert.equal(store.claimed, 2);
  });

  it('leaves a running claim its slots', async () => {
    await addWebhook('wh_a');
    await startCaughtUp();
    receiver.hold();

    // A due row written by another path, such as a redelivery, for the claim to find.
    const now = Date.now();
    await test.db
      .insertInto('events')
      .values({ id: 'evt_other', type: 'submission', payload: '{}', request_id: null, created_at: now })
      .execute();
    await test.db
      .insertInto('deliveries')
      .values({
        id: 'dlv_other',
        event_id: 'evt_other',
        webhook_id: 'wh_a',
        status: 'pending',
        attempt_count: 0,
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
        completed_at: null,
      })
      .execute();
    let open!: () => void;
    store.gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const started = store.claimsStarted;
    worker.wake();
    await eventually(async () => (store.claimsStarted > started ? true : undefined), 5_000, 'a claim to start');

    // The claim reserves both of the webhook's slots until it returns, so this one is queued.
    const [during] = await record();
    assert.equal(during?.status, 'pending');

    store.gate = undefined;
    open();
    receiver.release();
    await succeeded(['dlv_other', during?.id as string]);
  });

  it('frees slots on rollback', async () => {
    await addWebhook('wh_a');
    await startCaughtUp();
    await assert.rejects(record({ failAfter: true }), /rolled back on purpose/);
    assert.equal(worker.inFlight, 0);
    assert.equal(await busy(), false);

    const [delivery] = await record();
    await succeeded([delivery?.id as string]);
    assert.equal(receiver.ids.length, 1);
  });

  it('leaves ordered and rate-limited webhooks alone', async () => {
    await addWebhook('wh_ordered', { is_ordered: 1 });
    await addWebhook('wh_limited', { rate_limit: 100 });
    await startCaughtUp();
    receiver.hold();
    const deliveries = await record();
    assert.equal(deliveries.length, 2);
    for (const delivery of deliveries) assert.equal(delivery.status, 'pending');
    receiver.release();
    await succeeded(deliveries.map((delivery) => delivery.id));
    assert.equal(store.claimed, 2);
  });

  it('uses the new URL after a change', async () => {
    await addWebhook('wh_a');
    await startCaughtUp();
    const moved = await startReceiver();
    try {
      await test.db.updateTable('webhooks').set({ url: moved.url }).where('id', '=', 'wh_a').execute();
      worker.webhooksChanged();
      const [delivery] = await record();
      await succeeded([delivery?.id as string]);
      assert.equal(moved.requests.length, 1);
      assert.equal(receiver.ids.length, 0);
    } finally {
      await moved.close();
    }
  });

  it('takes nothing once stopped', async () => {
    await addWebhook('wh_a');
    await startCaughtUp();
    await worker.stop(1_000);
    const [delivery] = await record();
    assert.equal(delivery?.status, 'pending');
    assert.equal(receiver.ids.length, 0);
  });
});
