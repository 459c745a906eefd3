import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { COUNTER_TYPE, createWebhook, publishCounters, registerCounterType } from './helpers/events.js';
import { eventually, startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, type TestService } from './helpers/service.js';

describe('limits', () => {
  let svc: TestService;
  let receiver: Receiver;

  before(async () => {
    svc = await startService({ WEBHOOK_RETRY_SCHEDULE: '0,100ms,5s', WEBHOOK_RETRY_JITTER: '0' });
    await registerCounterType(svc.admin);
    receiver = await startReceiver();
  });
  after(async () => {
    await svc.close();
    await receiver.close();
  });

  const create = (fields: Record<string, unknown>) =>
    svc.admin.post('/api/v1/webhooks', { name: 'Limits', url: receiver.url, event_types: [COUNTER_TYPE], ...fields });

  it('rejects a URL longer than 2048 characters', async () => {
    const response = await create({ url: `${receiver.url}?q=${'a'.repeat(2100)}` });
    assert.equal(response.status, 400);
    assert.equal(response.body.field, 'url');
    assert.match(response.body.message, /2048/);
  });

  it('rejects too many custom headers', async () => {
    const headers = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`X-Custom-${i}`, 'v']));
    const response = await create({ headers });
    assert.equal(response.status, 400);
    assert.equal(response.body.field, 'headers');
    assert.match(response.body.message, /at most 50/);
  });

  it('rejects custom headers over 8192 characters in total', async () => {
    const headers = { 'X-One': 'a'.repeat(4000), 'X-Two': 'b'.repeat(4000), 'X-Three': 'c'.repeat(400) };
    const response = await create({ headers });
    assert.equal(response.status, 400);
    assert.equal(response.body.field, 'headers');
    assert.match(response.body.message, /8192/);
  });

  it('rejects a header value over 4096 characters', async () => {
    const response = await create({ headers: { 'X-Long': 'a'.repeat(4097) } });
    assert.equal(response.status, 400);
    assert.equal(response.body.field, 'headers.X-Long');
  });

  it('stores 4 KB of a large response body', async () => {
    receiver.setBehaviour(() => ({ status: 200, body: 'x'.repeat(100_000) }));
    const webhook = await createWebhook(svc.admin, receiver.url);
    await publishCounters(svc.admin, 0, 1);
    const delivery = await eventually(async () => {
      const list = await svc.admin.get(`/api/v1/webhooks/${webhook.id}/deliveries?status=succeeded`);
      return list.body.data[0];
    }, 5_000, 'the delivery to succeed');
    const detail = await svc.admin.get(`/api/v1/deliveries/${delivery.id}`);
    assert.equal(detail.body.attempts[0].response_excerpt.length, 4096);
    await svc.admin.delete(`/api/v1/webhooks/${webhook.id}`);
  });

  it('honours Retry-After within the schedule', async () => {
    let retryAfterSent = 0;
    receiver.setBehaviour(() => (retryAfterSent++ === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 204 }));
    const webhook = await createWebhook(svc.admin, receiver.url);
    await publishCounters(svc.admin, 1, 2);
    const delivery = await eventually(async () => {
      const list = await svc.admin.get(`/api/v1/webhooks/${webhook.id}/deliveries`);
      const first = list.body.data[0];
      return first?.attempt_count === 1 ? first : undefined;
    }, 5_000, 'the first attempt to be recorded');
    assert.equal(delivery.status, 'pending');
    assert.equal(delivery.last_status_code, 429);
    // The receiver asked for 1 s; the schedule's next delay is 100 ms and its longest 5 s.
    assert.equal(Date.parse(delivery.next_attempt_at) - Date.parse(delivery.updated_at), 1_000);
  });
});
