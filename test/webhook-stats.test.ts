import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, type TestService } from './helpers/service.js';

describe('webhook statistics', () => {
  let svc: TestService;
  let receiver: Receiver;

  before(async () => {
    svc = await startService({ WEBHOOK_RETRY_SCHEDULE: '0,100ms' });
    receiver = await startReceiver((_request, n) => ({ status: n === 1 ? 500 : 204 }));
  });
  after(async () => {
    await receiver.close();
    await svc.close();
  });

  it('reports success rate and last outcome', async () => {
    const created = await svc.admin.post('/api/v1/webhooks', {
      name: 'Stats',
      url: receiver.url,
      event_types: ['submission'],
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.success_rate_24h, null);
    assert.equal(created.body.attempts_24h, 0);
    assert.equal(created.body.last_attempt, null);

    const report = await svc.admin.post('/api/v1/reports', {
      type: 'SAT',
      title: 'Stats report',
      reference: 'R-1',
      client: 'Client',
    });
    assert.equal((await svc.admin.post(`/api/v1/reports/${report.body.id}/submit`)).status, 200);
    await receiver.waitFor(2);

    const webhook = await eventually(
      async () => {
        const response = await svc.admin.get(`/api/v1/webhooks/${created.body.id}`);
        return response.body.attempts_24h === 2 ? response.body : undefined;
      },
      10_000,
      'two recorded attempts',
    );
    assert.equal(webhook.success_rate_24h, 0.5);
    assert.equal(webhook.last_attempt.succeeded, true);
    assert.equal(webhook.last_attempt.status_code, 204);
    assert.equal(webhook.last_attempt.error_kind, null);

    const listed = (await svc.admin.get('/api/v1/webhooks')).body.data[0];
    assert.equal(listed.success_rate_24h, 0.5);
    assert.equal(listed.last_attempt.succeeded, true);

    receiver.setBehaviour(() => ({ status: 503 }));
    const tested = await svc.admin.post(`/api/v1/webhooks/${created.body.id}/test`);
    assert.equal(tested.body.status_code, 503);
    const after = (await svc.admin.get(`/api/v1/webhooks/${created.body.id}`)).body;
    assert.equal(after.attempts_24h, 2, 'test calls are not counted');
    assert.equal(after.success_rate_24h, 0.5);
    assert.equal(after.last_attempt.succeeded, true);
  });
});
