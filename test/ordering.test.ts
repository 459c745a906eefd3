import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createWebhook, publishCounters, registerCounterType } from './helpers/events.js';
import { eventually, startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, type TestService } from './helpers/service.js';

const EVENTS = 6;

describe('ordered endpoint', () => {
  let svc: TestService;
  let ordered: Receiver;
  let other: Receiver;

  before(async () => {
    // A one-second retry delay keeps the failed head waiting long enough to read the holdback.
    svc = await startService({ WEBHOOK_RETRY_SCHEDULE: '0,1s,1s,1s', WEBHOOK_RETRY_JITTER: '0' });
    await registerCounterType(svc.admin);
    ordered = await startReceiver((_request, n) => ({ status: n <= 2 ? 500 : 204 }));
    other = await startReceiver();
  });
  after(async () => {
    await svc.close();
    await ordered.close();
    await other.close();
  });

  it('fails twice, then receives every event in order', async () => {
    const webhook = await createWebhook(svc.admin, ordered.url, { ordered: true });
    assert.equal((await svc.admin.get(`/api/v1/webhooks/${webhook.id}`)).body.ordered, true);
    await createWebhook(svc.admin, other.url);
    const ids = await publishCounters(svc.admin, 0, EVENTS);

    // The unordered webhook is not held back by the failing one.
    const others = await other.waitFor(EVENTS);
    assert.equal(others.length, EVENTS);

    const holdback = await eventually(async () => {
      const response = await svc.admin.get(`/api/v1/webhooks/${webhook.id}/holdback`);
      const { head, held_back } = response.body;
      return head?.status === 'pending' && head.attempt_count >= 1 && held_back === EVENTS - 1
        ? response.body
        : undefined;
    }, 5_000, 'the failed head to hold back the other deliveries');
    assert.equal(holdback.ordered, true);
    assert.equal(holdback.head.event_id, ids[0]);

    const list = await svc.admin.get(`/api/v1/webhooks/${webhook.id}/deliveries?status=pending`);
    const waiting = list.body.data.filter((delivery: any) => delivery.id !== holdback.head.id);
    assert.ok(waiting.length > 0);
    for (const delivery of waiting) assert.equal(delivery.held_back_by, holdback.head.id);

    const requests = await ordered.waitFor(EVENTS + 2, 15_000);
    const sequence = requests.map((request) => JSON.parse(request.body).data.n);
    assert.deepEqual(sequence, [0, 0, 0, 1, 2, 3, 4, 5]);
    const received = requests.map((request) => request.headers['webhook-id']);
    assert.deepEqual([...new Set(received)], ids);

    const after = await eventually(async () => {
      const response = await svc.admin.get(`/api/v1/webhooks/${webhook.id}/holdback`);
      return response.body.head === null ? response.body : undefined;
    }, 5_000, 'the queue to drain');
    assert.equal(after.held_back, 0);
  });
});
