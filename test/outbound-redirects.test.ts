import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { startCanary, type Canary } from './helpers/canary.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, type TestService } from './helpers/service.js';
import { createWebhook, finishedDelivery, submitReport, testCall } from './helpers/webhooks.js';

const REDIRECT_STATUSES = [301, 302, 303, 307, 308];

describe('outbound safety: redirects', () => {
  let svc: TestService;
  let canary: Canary;
  let receiver: Receiver;
  let other: Receiver;

  before(async () => {
    canary = await startCanary(['127.0.0.1', '::1']);
    receiver = await startReceiver();
    other = await startReceiver();
    svc = await startService({ WEBHOOK_RETRY_SCHEDULE: '0' });
  });
  after(async () => {
    await svc.close();
    await receiver.close();
    await other.close();
    await canary.close();
    assert.equal(canary.connections(), 0, 'the canary accepted a connection');
  });

  const canaryLocations = (): Array<[string, string, RegExp]> => [
    [`http://127.0.0.1:${canary.port}/`, `http://127.0.0.1:${canary.port}/`, /127\.0\.0\.1 \(loopback\)/],
    [`//127.0.0.1:${canary.port}/`, `http://127.0.0.1:${canary.port}/`, /127\.0\.0\.1 \(loopback\)/],
    [`http://[::1]:${canary.port}/`, `http://[::1]:${canary.port}/`, /::1 \(loopback\)/],
  ];

  it('records a redirect to the canary without following it (OS-11)', async () => {
    const created = await createWebhook(svc.admin, receiver.url);
    assert.equal(created.body.follow_redirects, false);
    for (const status of REDIRECT_STATUSES) {
      for (const [location] of canaryLocations()) {
        receiver.setBehaviour(() => ({ status, headers: { location } }));
        const result = await testCall(svc.admin, created.body.id);
        const label = `${status} to ${location}`;
        assert.equal(result.status_code, status, label);
        assert.equal(result.error_kind, 'http_status', label);
        assert.equal(result.error, `receiver responded with status ${status} (a redirect, not followed)`, label);
        assert.deepEqual(result.redirects, [], label);
      }
    }
    assert.equal(canary.connections(), 0);
  });

  it('records the 3xx as the outcome of a delivery attempt', async () => {
    receiver.setBehaviour(() => ({ status: 302, headers: { location: `http://127.0.0.1:${canary.port}/` } }));
    const created = await createWebhook(svc.admin, receiver.url, { event_types: ['submission'] });
    await submitReport(svc);
    const delivery = await finishedDelivery(svc.admin, created.body.id);
    assert.equal(delivery.status, 'failed');
    assert.equal(delivery.attempts.length, 1);
    assert.equal(delivery.attempts[0].status_code, 302);
    assert.equal(delivery.attempts[0].error_kind, 'http_status');
    assert.equal(canary.connections(), 0);
    await svc.admin.patch(`/api/v1/webhooks/${created.body.id}`, { is_active: false });
  });

  it('blocks every hop to the canary when following is on', async () => {
    const created = await createWebhook(svc.admin, receiver.url, { follow_redirects: true });
    assert.equal(created.body.follow_redirects, true);
    for (const status of REDIRECT_STATUSES) {
      for (const [location, resolved, reason] of canaryLocations()) {
        receiver.setBehaviour(() => ({ status, headers: { location } }));
        const result = await testCall(svc.admin, created.body.id);
        const label = `${status} to ${location}`;
        assert.equal(result.error_kind, 'blocked', label);
        assert.match(result.error, reason, label);
        assert.equal(result.status_code, null, label);
        assert.deepEqual(result.redirects, [resolved], label);
      }
    }
    assert.equal(canary.connections(), 0);
  });

  it('blocks a hop to a refused URL form', async () => {
    const created = await createWebhook(svc.admin, receiver.url, { follow_redirects: true });
    const cases: Array<[string, RegExp]> = [
      [`ftp://127.0.0.2:${other.port}/`, /^redirect not followed: the target url uses the scheme ftp/],
      [`http://user:pw@127.0.0.2:${other.port}/`, /^redirect not followed: the target url contains credentials/],
      [`http://0x7f.1:${canary.port}/`, /127\.0\.0\.1 \(loopback\)/],
      ['http://[fe80::1%25lo]/', /not a valid URL/],
    ];
    for (const [location, error] of cases) {
      receiver.setBehaviour(() => ({ status: 302, headers: { location } }));
      const result = await testCall(svc.admin, created.body.id);
      assert.equal(result.error_kind, 'blocked', location);
      assert.match(result.error, error, location);
    }
    assert.equal(other.connections(), 0);
    assert.equal(canary.connections(), 0);
  });

  it('follows an allowed redirect with the same signed request', async () => {
    const created = await createWebhook(svc.admin, receiver.url, {
      follow_redirects: true,
      headers: { Authorization: 'Bearer same-origin' },
    });
    receiver.setBehaviour((request) =>
      request.path === '/hook' ? { status: 307, headers: { location: '/final' } } : { status: 200, body: 'done' },
    );
    const before = receiver.requests.length;
    const result = await testCall(svc.admin, created.body.id);
    assert.equal(result.success, true, result.error);
    assert.equal(result.status_code, 200);
    assert.equal(result.response_excerpt, 'done');
    assert.deepEqual(result.redirects, [`http://127.0.0.2:${receiver.port}/final`]);

    const [first, second] = receiver.requests.slice(before);
    assert.equal(second?.path, '/final');
    assert.equal(second?.method, 'POST');
    assert.equal(second?.body, first?.body);
    assert.equal(second?.headers.authorization, 'Bearer same-origin');
    const secret = (await svc.admin.get(`/api/v1/webhooks/${created.body.id}/secret`)).body.secret as string;
    new Webhook(secret).verify(second?.body ?? '', second?.headers as Record<string, string>);
  });

  it('switches to GET without a body after a 303', async () => {
    const created = await createWebhook(svc.admin, receiver.url, { follow_redirects: true });
    receiver.setBehaviour((request) =>
      request.path === '/hook' ? { status: 303, headers: { location: '/result' } } : { status: 204 },
    );
    const before = receiver.requests.length;
    const result = await testCall(svc.admin, created.body.id);
    assert.equal(result.success, true, result.error);
    const last = receiver.requests.slice(before).at(-1);
    assert.equal(last?.method, 'GET');
    assert.equal(last?.path, '/result');
    assert.equal(last?.body, '');
    assert.equal(last?.headers['content-type'], undefined);
  });

  it('sends custom headers only to the original origin', async () => {
    const created = await createWebhook(svc.admin, receiver.url, {
      follow_redirects: true,
      headers: { Authorization: 'Bearer for-the-first-origin-only' },
    });
    receiver.setBehaviour(() => ({ status: 308, headers: { location: `${other.url}?from=first` } }));
    other.setBehaviour(() => ({ status: 202 }));
    const result = await testCall(svc.admin, created.body.id);
    assert.equal(result.status_code, 202, result.error);
    const forwarded = other.requests.at(-1);
    assert.equal(forwarded?.headers.authorization, undefined);
    assert.ok(forwarded?.headers['webhook-signature']);
  });

  it('stops after three redirects and records the fourth', async () => {
    const created = await createWebhook(svc.admin, receiver.url, { follow_redirects: true });
    receiver.setBehaviour((_request, n) => ({ status: 302, headers: { location: `/hop${n}` } }));
    const before = receiver.requests.length;
    const result = await testCall(svc.admin, created.body.id);
    assert.equal(receiver.requests.length - before, 4);
    assert.equal(result.status_code, 302);
    assert.equal(result.error_kind, 'http_status');
    assert.equal(result.redirects.length, 3);
  });

  it('sets and clears follow_redirects with PATCH', async () => {
    const created = await createWebhook(svc.admin, receiver.url);
    const path = `/api/v1/webhooks/${created.body.id}`;
    assert.equal((await svc.admin.patch(path, { follow_redirects: true })).body.follow_redirects, true);
    assert.equal((await svc.admin.get(path)).body.follow_redirects, true);
    assert.equal((await svc.admin.patch(path, { follow_redirects: false })).body.follow_redirects, false);

    const invalid = await svc.admin.patch(path, { follow_redirects: 'yes' });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.field, 'follow_redirects');
  });
});
