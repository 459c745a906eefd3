import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createWebhook, publishCounters, registerCounterType } from './helpers/events.js';
import { eventually, startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, type TestService } from './helpers/service.js';

const OLD_EVENTS = 40;

describe('retention', () => {
  let svc: TestService;
  let receiver: Receiver;
  let failingReceiver: Receiver;

  before(async () => {
    svc = await startService({
      RETENTION_PERIOD: '1s',
      RETENTION_BATCH_SIZE: '3',
      RETENTION_INTERVAL: '1h',
      WEBHOOK_RETRY_SCHEDULE: '0',
    });
    await registerCounterType(svc.admin);
    receiver = await startReceiver();
    failingReceiver = await startReceiver(() => ({ status: 500 }));
  });
  after(async () => {
    await svc.close();
    await receiver.close();
    await failingReceiver.close();
  });

  const count = async (table: 'deliveries' | 'delivery_attempts' | 'events', status?: string) => {
    let query = svc.service.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n'));
    if (status) query = query.where('status' as never, '=', status as never);
    return Number((await query.executeTakeFirstOrThrow()).n);
  };

  it('prunes old history in batches and keeps failed deliveries', async () => {
    await createWebhook(svc.admin, receiver.url);
    const failing = await createWebhook(svc.admin, failingReceiver.url);
    await publishCounters(svc.admin, 0, OLD_EVENTS);
    await receiver.waitFor(OLD_EVENTS);
    await eventually(async () => ((await count('deliveries', 'failed')) === OLD_EVENTS ? true : undefined));
    await eventually(async () => ((await count('deliveries', 'succeeded')) === OLD_EVENTS ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 1_100));

    // Delivery goes on while the pruner works through its batches.
    const pruning = svc.service.pruner.run();
    const fresh = await publishCounters(svc.admin, OLD_EVENTS, OLD_EVENTS + 5);
    const counts = await pruning;
    const received = await receiver.waitFor(OLD_EVENTS + 5);
    assert.deepEqual(received.slice(-5).map((request) => request.headers['webhook-id']).sort(), [...fresh].sort());

    assert.ok(counts.attempts >= OLD_EVENTS * 2, `pruned ${counts.attempts} attempts`);
    assert.ok(counts.deliveries >= OLD_EVENTS, `pruned ${counts.deliveries} deliveries`);
    assert.ok((await count('deliveries', 'failed')) >= OLD_EVENTS, 'failed deliveries were pruned');
    const failedList = await svc.admin.get(`/api/v1/webhooks/${failing.id}/deliveries?status=failed&limit=200`);
    assert.ok(failedList.body.data.length >= OLD_EVENTS);
    assert.equal(counts.events, 0);

    const log = fs.readFileSync(svc.logFile, 'utf8');
    assert.match(log, /pruned history older than the retention period/);
  });

  it('prunes events once no delivery refers to them', async () => {
    await svc.admin.delete(`/api/v1/webhooks/${(await svc.admin.get('/api/v1/webhooks')).body.data[1].id}`);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const counts = await svc.service.pruner.run();
    assert.ok(counts.events >= OLD_EVENTS, `pruned ${counts.events} events`);
    assert.equal(await count('deliveries'), 0);
    assert.equal(await count('events'), 0);
  });
});
