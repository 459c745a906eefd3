import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, type TestService } from './helpers/service.js';

async function fireSubmission(svc: TestService): Promise<void> {
  const report = await svc.admin.post('/api/v1/reports', { type: 'SAT', title: 'T', reference: 'R-1', client: 'C' });
  const submitted = await svc.admin.post(`/api/v1/reports/${report.body.id}/submit`);
  assert.equal(submitted.status, 200);
}

async function onlyDelivery(svc: TestService, webhookId: string, status: string) {
  return eventually(async () => {
    const list = await svc.admin.get(`/api/v1/webhooks/${webhookId}/deliveries`);
    const delivery = list.body.data[0];
    if (delivery?.status !== status) return undefined;
    return (await svc.admin.get(`/api/v1/deliveries/${delivery.id}`)).body;
  }, 10_000, `a ${status} delivery`);
}

describe('retries', () => {
  let svc: TestService;
  let receiver: Receiver;

  before(async () => {
    svc = await startService({ WEBHOOK_TIMEOUT: '500ms', WEBHOOK_RETRY_SCHEDULE: '0,100ms,100ms' });
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver.close();
    await svc.close();
  });

  async function webhookFor(url: string): Promise<string> {
    const created = await svc.admin.post('/api/v1/webhooks', { name: 'hook', url, event_types: ['submission'] });
    assert.equal(created.status, 201);
    return created.body.id as string;
  }

  it('delivers on the second attempt after a 500', async () => {
    receiver.setBehaviour((_request, n) => (n === 1 ? { status: 500, body: 'database down' } : { status: 200, body: 'ok' }));
    const id = await webhookFor(receiver.url);
    await fireSubmission(svc);

    const delivery = await onlyDelivery(svc, id, 'succeeded');
    assert.equal(delivery.attempt_count, 2);
    assert.equal(delivery.attempts[0].status_code, 500);
    assert.equal(delivery.attempts[0].error_kind, 'http_status');
    assert.equal(delivery.attempts[0].response_excerpt, 'database down');
    assert.equal(delivery.attempts[1].status_code, 200);
    assert.equal(delivery.attempts[1].error, null);

    const [first, second] = receiver.requests.slice(-2);
    assert.equal(first!.headers['webhook-id'], second!.headers['webhook-id']);
    assert.equal(first!.body, second!.body);
    await svc.admin.delete(`/api/v1/webhooks/${id}`);
  });

  it('times out a receiver that never answers and retries it', async () => {
    const hung = await startReceiver(() => ({ hang: true }));
    try {
      const id = await webhookFor(hung.url);
      await fireSubmission(svc);

      const delivery = await onlyDelivery(svc, id, 'failed');
      assert.equal(delivery.attempt_count, 3);
      for (const attempt of delivery.attempts) {
        assert.equal(attempt.status_code, null);
        assert.equal(attempt.error_kind, 'timeout');
        assert.ok(attempt.duration_ms >= 400, `attempt lasted ${attempt.duration_ms} ms`);
      }
      assert.equal(hung.requests.length, 3);
      await svc.admin.delete(`/api/v1/webhooks/${id}`);
    } finally {
      await hung.close();
    }
  });

  it('marks a delivery failed once the schedule is used up', async () => {
    receiver.setBehaviour(() => ({ status: 503 }));
    const id = await webhookFor(receiver.url);
    await fireSubmission(svc);

    const delivery = await onlyDelivery(svc, id, 'failed');
    assert.equal(delivery.attempt_count, 3);
    assert.deepEqual(
      delivery.attempts.map((attempt: { status_code: number }) => attempt.status_code),
      [503, 503, 503],
    );
    const webhook = await svc.admin.get(`/api/v1/webhooks/${id}`);
    assert.equal(webhook.body.trigger_count, 0);
    assert.equal(webhook.body.last_triggered, null);
  });

  it('sends a failed delivery again on request', async () => {
    receiver.setBehaviour(() => ({ status: 204 }));
    const list = await svc.admin.get('/api/v1/webhooks');
    const id = list.body.data.at(-1).id as string;
    const failed = await onlyDelivery(svc, id, 'failed');

    const redelivered = await svc.admin.post(`/api/v1/deliveries/${failed.id}/redeliver`);
    assert.equal(redelivered.status, 202);
    const delivery = await onlyDelivery(svc, id, 'succeeded');
    assert.equal(delivery.attempts.at(-1).trigger, 'manual');
    assert.equal(delivery.attempts.at(-1).status_code, 204);

    const again = await svc.admin.post(`/api/v1/deliveries/${failed.id}/redeliver`);
    assert.equal(again.status, 202);
  });

  it('does not hold up a healthy webhook behind a hung one', async () => {
    const hung = await startReceiver(() => ({ hang: true }));
    const healthy = await startReceiver();
    try {
      await webhookFor(hung.url);
      await webhookFor(healthy.url);
      for (let i = 0; i < 5; i++) await fireSubmission(svc);
      // All five reach the healthy receiver while the hung one still holds its first attempts.
      await healthy.waitFor(5, 5_000);
      assert.ok(hung.requests.length >= 1);
    } finally {
      await hung.close();
      await healthy.close();
    }
  });
});
