import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { DeliverySender } from '../src/delivery/sender.js';
import { generateSecret } from '../src/delivery/signature.js';
import { DeliveryStore, type AttemptRecord, type ClaimedDelivery, type ClaimSlot } from '../src/delivery/store.js';
import { DeliveryWorker } from '../src/delivery/worker.js';
import { createLogger } from '../src/observability/logger.js';
import { AddressPolicy } from '../src/outbound/address-policy.js';
import { OutboundClient } from '../src/outbound/client.js';
import { openTestDatabase, TEST_DATABASE, type OpenTestDatabase } from './helpers/database.js';
import { eventually, startReceiver, type Receiver } from './helpers/receiver.js';
import { ALLOWED_CIDR, tempDir } from './helpers/service.js';

/** A gate that blocks callers until it is opened. */
class Gate {
  open: () => void = () => undefined;
  readonly opened = new Promise<void>((resolve) => {
    this.open = resolve;
  });
}

/**
 * A store whose write-backs and claims can be held, as a slow database would hold them, and
 * which records the size of every write-back.
 */
class HoldingStore extends DeliveryStore {
  writeGate: Gate | undefined;
  claimGate: Gate | undefined;
  claimsHeld = 0;
  readonly writes: number[] = [];

  override async recordAttempts(records: readonly AttemptRecord[]): Promise<void> {
    this.writes.push(records.length);
    await this.writeGate?.opened;
    await super.recordAttempts(records);
  }

  override async claim(slots: readonly ClaimSlot[], total: number, now: number, leaseUntil: number): Promise<ClaimedDelivery[]> {
    const rows = await super.claim(slots, total, now, leaseUntil);
    if (this.claimGate && rows.length > 0) {
      this.claimsHeld += 1;
      await this.claimGate.opened;
    }
    return rows;
  }

  /** Lets every held call go on, so a failed test cannot leave the worker waiting. */
  openGates(): void {
    this.writeGate?.open();
    this.claimGate?.open();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(`the worker's write-back on ${TEST_DATABASE}`, () => {
  let test: OpenTestDatabase;
  let receiver: Receiver;
  let outbound: OutboundClient;
  let store: HoldingStore;
  let worker: DeliveryWorker | undefined;

  before(async () => {
    test = await openTestDatabase(tempDir());
    receiver = await startReceiver();
    outbound = new OutboundClient({
      policy: new AddressPolicy([ALLOWED_CIDR]),
      timeoutMs: 5_000,
      connectionsPerOrigin: 64,
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
    receiver.requests.length = 0;
    receiver.setBehaviour(() => ({ status: 204 }));
    store = new HoldingStore(test.db, test.dialect);
  });
  afterEach(async () => {
    store.openGates();
    await worker?.stop(5_000);
    worker = undefined;
  });

  function startWorker(maxInFlight: number): Promise<void> {
    worker = new DeliveryWorker(test.db, store, new DeliverySender(outbound), createLogger('silent'), {
      maxInFlight,
      endpointConcurrency: maxInFlight,
      retryScheduleMs: [0, 60_000],
      timeoutMs: 5_000,
      pollIntervalMs: 50,
    });
    return worker.start();
  }

  /** Queues `count` due deliveries to one webhook at the receiver and returns their ids. */
  async function queue(count: number): Promise<string[]> {
    const now = Date.now();
    await test.db
      .insertInto('webhooks')
      .values({
        id: 'wh_a',
        name: 'wh_a',
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
      })
      .execute();
    const ids: string[] = [];
    for (let start = 0; start < count; start += 100) {
      const numbers = Array.from({ length: Math.min(100, count - start) }, (_, n) => start + n);
      const suffix = (n: number) => String(n).padStart(5, '0');
      await test.db
        .insertInto('events')
        .values(numbers.map((n) => ({ id: `evt_${suffix(n)}`, type: 'submission', payload: '{}', request_id: null, created_at: now })))
        .execute();
      const rows = numbers.map((n) => ({
        id: `dlv_${suffix(n)}`,
        event_id: `evt_${suffix(n)}`,
        webhook_id: 'wh_a',
        status: 'pending' as const,
        attempt_count: 0,
        next_attempt_at: now - count + n,
        created_at: now,
        updated_at: now,
        completed_at: null,
      }));
      await test.db.insertInto('deliveries').values(rows).execute();
      ids.push(...rows.map((row) => row.id));
    }
    return ids;
  }

  async function statuses(): Promise<Map<string, number>> {
    const rows = await test.db.selectFrom('deliveries').select('status').execute();
    const counts = new Map<string, number>();
    for (const row of rows) counts.set(row.status, (counts.get(row.status) ?? 0) + 1);
    return counts;
  }

  async function allSucceeded(count: number): Promise<void> {
    await eventually(async () => ((await statuses()).get('succeeded') === count ? true : undefined), 20_000, `${count} successes`);
  }

  it('claims nothing past unwritten results', async () => {
    await queue(40);
    const held = new Gate();
    store.writeGate = held;
    await startWorker(4);

    // Four attempts in flight plus four results waiting is as far as the worker may go.
    await eventually(async () => (receiver.requests.length >= 8 ? true : undefined), 5_000, 'eight requests');
    await sleep(300);
    assert.equal(receiver.requests.length, 8);
    assert.equal((await statuses()).get('delivering'), 8);

    held.open();
    await allSucceeded(40);
    assert.equal(receiver.requests.length, 40);
    assert.equal(new Set(receiver.requests.map((request) => request.headers['webhook-id'])).size, 40);
  });

  it('splits write-backs at 500 results', async () => {
    await queue(1_100);
    const held = new Gate();
    store.writeGate = held;
    await startWorker(600);

    // The first write-back keeps the rest of the results queued behind it.
    await eventually(async () => (receiver.requests.length >= 1_100 ? true : undefined), 20_000, 'every request');
    held.open();
    await allSucceeded(1_100);
    assert.ok(
      store.writes.every((size) => size <= 500),
      `write-backs of ${store.writes.join(', ')}`,
    );
    assert.ok(store.writes.includes(500), `write-backs of ${store.writes.join(', ')}`);
    assert.equal(
      store.writes.reduce((sum, size) => sum + size, 0),
      1_100,
    );
  });

  it('releases a claim ending after stop', async () => {
    await queue(3);
    const held = new Gate();
    store.claimGate = held;
    await startWorker(4);
    await eventually(async () => (store.claimsHeld > 0 ? true : undefined), 5_000, 'a held claim');
    assert.equal((await statuses()).get('delivering'), 3);

    const stopping = worker?.stop(1_000);
    worker = undefined;
    await sleep(50);
    held.open();
    await stopping;

    const rows = await test.db.selectFrom('deliveries').select(['status', 'lease_owner']).execute();
    assert.deepEqual(
      rows.map((row) => [row.status, row.lease_owner]),
      [
        ['pending', null],
        ['pending', null],
        ['pending', null],
      ],
    );
    assert.equal(receiver.requests.length, 0);
  });

  it('requeues attempts outlasting stop', async () => {
    receiver.setBehaviour(() => ({ hang: true }));
    await queue(2);
    await startWorker(4);
    await receiver.waitFor(2);

    await worker?.stop(100);
    worker = undefined;
    const rows = await test.db.selectFrom('deliveries').select(['status', 'lease_owner']).execute();
    assert.deepEqual(
      rows.map((row) => [row.status, row.lease_owner]),
      [
        ['pending', null],
        ['pending', null],
      ],
    );
    assert.equal((await test.db.selectFrom('delivery_attempts').select('id').execute()).length, 0);
  });
});
