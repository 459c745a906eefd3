import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { onlyPostgres, TEST_DATABASE } from './helpers/database.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, type TestService } from './helpers/service.js';

const ALL_EVENTS = ['submission', 'approval', 'rejection', 'completion'];

async function createWebhook(svc: TestService, url: string) {
  const created = await svc.admin.post('/api/v1/webhooks', { name: 'Receiver', url, event_types: ALL_EVENTS });
  assert.equal(created.status, 201);
  return created;
}

async function submitReport(svc: TestService): Promise<void> {
  const report = await svc.admin.post('/api/v1/reports', {
    type: 'SAT',
    title: 'Pump station 4',
    reference: 'SAT-1',
    client: 'Northwind Water',
  });
  assert.equal(report.status, 201);
  const submitted = await svc.admin.post(`/api/v1/reports/${report.body.id}/submit`);
  assert.equal(submitted.status, 200);
}

describe(`service roles on ${TEST_DATABASE}`, () => {
  let api: TestService;
  let receiver: Receiver;

  before(async () => {
    api = await startService({ SERVICE_ROLE: 'api' });
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver.close();
    await api.close();
  });

  it('api role enqueues without sending', async () => {
    const created = await createWebhook(api, receiver.url);
    await submitReport(api);

    const deliveries = await api.admin.get(`/api/v1/webhooks/${created.body.id}/deliveries`);
    assert.equal(deliveries.body.data.length, 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(receiver.requests.length, 0);
    const again = await api.admin.get(`/api/v1/webhooks/${created.body.id}/deliveries`);
    assert.equal(again.body.data[0].status, 'pending');
  });

  it('worker role serves only health', async () => {
    const worker = await startService({ SERVICE_ROLE: 'worker', DATABASE_URL: api.databaseUrl });
    try {
      const health = await worker.admin.get('/healthz');
      assert.equal(health.status, 200);
      assert.deepEqual(health.body, { status: 'ok', role: 'worker' });
      assert.equal((await worker.admin.post('/api/v1/auth/token', {})).status, 404);
      assert.equal((await worker.admin.get('/api/v1/webhooks')).status, 404);
      assert.equal((await worker.admin.get('/api/docs/openapi.json')).status, 404);
    } finally {
      await worker.close();
    }
  });
});

describe('worker processes on one PostgreSQL', onlyPostgres, () => {
  let api: TestService;
  let worker: TestService;
  let receiver: Receiver;

  before(async () => {
    api = await startService({ SERVICE_ROLE: 'api' });
    // With an hour between polls, only a notification can make this worker look for work.
    worker = await startService({
      SERVICE_ROLE: 'worker',
      DATABASE_URL: api.databaseUrl,
      WEBHOOK_POLL_INTERVAL: '1h',
    });
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver.close();
    await worker.close();
    await api.close();
  });

  it('wakes on notifications from the api', async () => {
    const created = await createWebhook(api, receiver.url);
    await submitReport(api);
    await submitReport(api);

    const requests = await receiver.waitFor(2, 10_000);
    for (const request of requests) assert.equal(JSON.parse(request.body).event, 'submission');
  });
});
