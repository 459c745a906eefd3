import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RateLimiter } from '../src/delivery/rate-limiter.js';
import { COUNTER_TYPE, createWebhook, publishCounters, registerCounterType } from './helpers/events.js';
import { eventually, startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, type TestService } from './helpers/service.js';

const EVENTS = 10;
const HUNG_CAP = 3;

describe('endpoint isolation', () => {
  let svc: TestService;
  let hung: Receiver;
  const healthy: Receiver[] = [];

  before(async () => {
    // The timeout outlasts the test, so the hung receiver keeps its attempts open throughout.
    svc = await startService({ WEBHOOK_TIMEOUT: '60s', WEBHOOK_MAX_IN_FLIGHT: '8', WEBHOOK_ENDPOINT_CONCURRENCY: '2' });
    await registerCounterType(svc.admin);
    hung = await startReceiver(() => ({ hang: true }));
    for (let i = 0; i < 19; i++) healthy.push(await startReceiver());
  });
  after(async () => {
    await svc.close();
    await hung.close();
    for (const receiver of healthy) await receiver.close();
  });

  it('serves nineteen receivers while one hangs', async () => {
    const hungHook = await createWebhook(svc.admin, hung.url, { max_in_flight: HUNG_CAP });
    for (const receiver of healthy) await createWebhook(svc.admin, receiver.url);
    const stored = await svc.admin.get(`/api/v1/webhooks/${hungHook.id}`);
    assert.equal(stored.body.max_in_flight, HUNG_CAP);

    const ids = await publishCounters(svc.admin, 0, EVENTS);
    for (const receiver of healthy) {
      const requests = await receiver.waitFor(EVENTS, 20_000);
      const received = new Set(requests.map((request) => request.headers['webhook-id']));
      assert.deepEqual([...received].sort(), [...ids].sort());
    }

    // The hung receiver still holds exactly its own cap of attempts.
    assert.equal(hung.requests.length, HUNG_CAP);
    await eventually(
      async () => (svc.service.worker.inFlight === HUNG_CAP ? true : undefined),
      10_000,
      'only the hung attempts to remain in flight',
    );
    assert.equal(hung.requests.length, HUNG_CAP);
    const pending = await svc.admin.get(`/api/v1/webhooks/${hungHook.id}/deliveries?status=pending`);
    assert.equal(pending.body.data.length, EVENTS - HUNG_CAP);
  });

  it('delivers everything to a rate-limited webhook', async () => {
    const receiver = await startReceiver();
    healthy.push(receiver);
    const webhook = await createWebhook(svc.admin, receiver.url, { rate_limit: 20 });
    const stored = await svc.admin.get(`/api/v1/webhooks/${webhook.id}`);
    assert.equal(stored.body.rate_limit, 20);
    const ids = await publishCounters(svc.admin, EVENTS, EVENTS + 30);
    const requests = await receiver.waitFor(30, 20_000);
    assert.deepEqual(requests.map((request) => request.headers['webhook-id']).sort(), [...ids].sort());
  });

  it('rejects an invalid per-webhook cap', async () => {
    const response = await svc.admin.post('/api/v1/webhooks', {
      name: 'Bad cap',
      url: healthy[0]!.url,
      event_types: [COUNTER_TYPE],
      max_in_flight: 0,
    });
    assert.equal(response.status, 400);
    assert.equal(response.body.field, 'max_in_flight');
  });
});

describe('rate limiter', () => {
  it('grants at most one second of tokens at once', () => {
    const limiter = new RateLimiter();
    assert.equal(limiter.take('wh', 5, 0, 10), 5);
    assert.equal(limiter.take('wh', 5, 0, 10), 0);
  });

  it('refills at the rate', () => {
    const limiter = new RateLimiter();
    limiter.take('wh', 5, 0, 5);
    assert.equal(limiter.waitMs('wh', 5, 0), 200);
    assert.equal(limiter.take('wh', 5, 400, 10), 2);
    assert.equal(limiter.take('wh', 5, 10_000, 10), 5);
  });

  it('takes back unused tokens', () => {
    const limiter = new RateLimiter();
    limiter.take('wh', 2, 0, 2);
    limiter.giveBack('wh', 1);
    assert.equal(limiter.take('wh', 2, 0, 2), 1);
  });

  it('allows one request per period below one per second', () => {
    const limiter = new RateLimiter();
    assert.equal(limiter.take('wh', 0.5, 0, 3), 1);
    assert.equal(limiter.take('wh', 0.5, 1_000, 3), 0);
    assert.equal(limiter.take('wh', 0.5, 2_000, 3), 1);
  });
});
