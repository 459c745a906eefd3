import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { COUNTER_TYPE, createWebhook, publishCounters, registerCounterType } from './helpers/events.js';
import { eventually, startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, type TestService } from './helpers/service.js';

describe('auto-disable and recovery', () => {
  let svc: TestService;
  let failing: Receiver;
  let watcher: Receiver;
  let broken = true;
  let webhookId = '';
  const started = new Date().toISOString();

  before(async () => {
    svc = await startService({
      WEBHOOK_DISABLE_AFTER: '600ms',
      // Twenty retries 100 ms apart keep the first delivery failing past the disable period.
      WEBHOOK_RETRY_SCHEDULE: ['0', ...Array(20).fill('100ms')].join(','),
      WEBHOOK_RECOVERY_RATE: '50',
    });
    await registerCounterType(svc.admin);
    failing = await startReceiver(() => ({ status: broken ? 500 : 204 }));
    watcher = await startReceiver();
  });
  after(async () => {
    await svc.close();
    await failing.close();
    await watcher.close();
  });

  it('disables a webhook that fails for the whole period', async () => {
    webhookId = (await createWebhook(svc.admin, failing.url, { name: 'Always failing' })).id;
    await createWebhook(svc.admin, watcher.url, { event_types: ['webhook.disabled'] });
    await publishCounters(svc.admin, 0, 2);

    const disabled = await eventually(async () => {
      const response = await svc.admin.get(`/api/v1/webhooks/${webhookId}`);
      return response.body.is_active === false ? response.body : undefined;
    }, 10_000, 'the webhook to be disabled');
    assert.match(disabled.disabled_reason, /every attempt failed for 600ms/);
    assert.ok(Date.parse(disabled.disabled_at) >= Date.parse(disabled.failing_since) + 600);

    const [notice] = await watcher.waitFor(1);
    const payload = JSON.parse(notice!.body);
    assert.equal(payload.event, 'webhook.disabled');
    assert.equal(payload.webhook.id, webhookId);
    assert.equal(payload.webhook.name, 'Always failing');
    assert.equal(payload.webhook.reason, disabled.disabled_reason);

    // The log stream writes asynchronously, so the line may land just after the event.
    const entry = await eventually(async () => {
      const log = fs.readFileSync(svc.logFile, 'utf8');
      return log.split('\n').find((line) => line.includes('webhook disabled after failing'));
    }, 5_000, 'the error line for the disabled webhook');
    assert.ok(entry, 'no error logged for the disabled webhook');
    assert.equal(JSON.parse(entry).level, 'error');
  });

  it('keeps events during inactivity as skipped deliveries', async () => {
    const before = failing.requests.length;
    await publishCounters(svc.admin, 2, 4);
    const skipped = await svc.admin.get(`/api/v1/webhooks/${webhookId}/deliveries?status=skipped`);
    assert.equal(skipped.body.data.length >= 2, true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(failing.requests.length, before);
  });

  it('rejects recovery while inactive', async () => {
    const response = await svc.admin.post(`/api/v1/webhooks/${webhookId}/recover`, { since: started });
    assert.equal(response.status, 409);
    assert.match(response.body.message, /activate it/);
  });

  it('recovers every missed event oldest first', async () => {
    broken = false;
    const reactivated = await svc.admin.patch(`/api/v1/webhooks/${webhookId}`, { is_active: true });
    assert.equal(reactivated.body.disabled_reason, null);
    assert.equal(reactivated.body.failing_since, null);

    const before = failing.requests.length;
    const recovered = await svc.admin.post(`/api/v1/webhooks/${webhookId}/recover`, { since: started });
    assert.equal(recovered.status, 202);
    assert.equal(recovered.body.queued, 4);

    const requests = (await failing.waitFor(before + 4)).slice(before);
    assert.deepEqual(requests.map((request) => JSON.parse(request.body).data.n), [0, 1, 2, 3]);

    const deliveries = await eventually(async () => {
      const response = await svc.admin.get(`/api/v1/webhooks/${webhookId}/deliveries?status=succeeded`);
      return response.body.data.length === 4 ? response.body.data : undefined;
    }, 5_000, 'the recovered deliveries to succeed');
    const detail = await svc.admin.get(`/api/v1/deliveries/${deliveries[0].id}`);
    assert.equal(detail.body.attempts.at(-1).trigger, 'manual');
    assert.equal(detail.body.event_type, COUNTER_TYPE);
  });

  it('skips pending deliveries on manual deactivation', async () => {
    broken = true;
    const other = await createWebhook(svc.admin, failing.url, { name: 'Paused by hand' });
    await publishCounters(svc.admin, 4, 5);
    await eventually(async () => {
      const list = await svc.admin.get(`/api/v1/webhooks/${other.id}/deliveries?status=pending`);
      return list.body.data[0]?.attempt_count >= 1 ? true : undefined;
    }, 5_000, 'a failed attempt');
    const paused = await svc.admin.patch(`/api/v1/webhooks/${other.id}`, { is_active: false });
    assert.equal(paused.body.is_active, false);
    const skipped = await eventually(async () => {
      const list = await svc.admin.get(`/api/v1/webhooks/${other.id}/deliveries`);
      return list.body.data.every((delivery: any) => delivery.status === 'skipped') ? list.body.data : undefined;
    }, 5_000, 'the pending delivery to be skipped');
    assert.equal(skipped.length, 1);
  });

  it('rejects a recovery time that is not a date', async () => {
    const response = await svc.admin.post(`/api/v1/webhooks/${webhookId}/recover`, { since: 'yesterday' });
    assert.equal(response.status, 400);
    assert.equal(response.body.field, 'since');
  });
});
