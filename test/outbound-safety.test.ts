import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { closedPort, startCanary, type Canary } from './helpers/canary.js';
import { TEST_DATABASE } from './helpers/database.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { FakeResolver } from './helpers/resolver.js';
import { startService, type TestService } from './helpers/service.js';
import { createWebhook, finishedDelivery, storeUrl, submitReport, testCall } from './helpers/webhooks.js';

/*
 * Every destination case runs twice: at registration, where the API must return 400 without
 * echoing an internal address, and at send time, where the URL is written straight into the
 * row and the test call must record a blocked attempt. The canaries listen on the addresses
 * these URLs point at and must never accept a connection.
 */

interface DestinationCase {
  readonly id: string;
  readonly url: string;
  /** The error code of the 400 at registration. */
  readonly code: 'blocked_destination' | 'invalid_request';
  /**
   * The recorded error of the blocked attempt when the URL is already stored, or undefined
   * for a case checked at registration only. Only cases whose address is on this machine run
   * at send time, so that a broken check could reach nothing but the canaries. The others
   * are covered by the registration check and the policy's unit table. The URL containing a
   * secret is never stored.
   */
  readonly sendError: RegExp | undefined;
}

const LOOPBACK_V4 = /^blocked address 127\.0\.0\.1 \(loopback\)$/;
const LOOPBACK_V6 = /^blocked address ::1 \(loopback\)$/;
const URL_SECRET = 'hunter2-in-the-url';

function destinationCases(p: number, q: number, r: number): DestinationCase[] {
  const blocked = (id: string, url: string, sendError?: RegExp): DestinationCase => ({
    id,
    url,
    code: 'blocked_destination',
    sendError,
  });
  const invalid = (id: string, url: string, sendError?: RegExp): DestinationCase => ({
    id,
    url,
    code: 'invalid_request',
    sendError,
  });
  const unspecified = /^blocked address (0\.0\.0\.0|::ffff:0:0) \(unspecified address\)$/;
  return [
    blocked('OS-01', `http://127.0.0.1:${p}/hook`, LOOPBACK_V4),
    blocked('OS-01', `http://localhost:${p}/hook`, LOOPBACK_V4),
    blocked('OS-01', `http://foo.localhost:${p}/`, LOOPBACK_V4),
    invalid('OS-01', `http://localhost.:${p}/`, /^url has a host name that ends with a dot/),
    invalid('OS-03', 'file:///etc/passwd', /only http and https/),
    invalid('OS-03', `gopher://127.0.0.1:${p}/_x`, /scheme gopher; only http and https/),
    invalid('OS-03', `ftp://127.0.0.1:${p}/`, /scheme ftp; only http and https/),
    invalid('OS-03', 'data:text/plain,hi', /scheme data; only http and https/),
    invalid('OS-03', `ws://127.0.0.1:${p}/`, /scheme ws; only http and https/),
    blocked('OS-04', `http://2130706433:${p}/`, LOOPBACK_V4),
    blocked('OS-04', `http://017700000001:${p}/`, LOOPBACK_V4),
    blocked('OS-04', `http://0x7f000001:${p}/`, LOOPBACK_V4),
    blocked('OS-04', `http://0x7f.1:${p}/`, LOOPBACK_V4),
    blocked('OS-04', `http://0177.0.0.1:${p}/`, LOOPBACK_V4),
    blocked('OS-04', `http://127.1:${p}/`, LOOPBACK_V4),
    blocked('OS-04', `http://127.000.000.001:${p}/`, LOOPBACK_V4),
    blocked('OS-04', 'http://2852039166/'),
    blocked('OS-05', `http://[::1]:${p}/`, LOOPBACK_V6),
    blocked('OS-05', `http://[0:0:0:0:0:0:0:1]:${p}/`, LOOPBACK_V6),
    blocked('OS-05', `http://[::]:${p}/`, /^blocked address :: \(unspecified address\)$/),
    blocked('OS-05', 'http://[fd12:3456::1]/'),
    blocked('OS-05', 'http://[fc00::1]/'),
    blocked('OS-05', 'http://100.64.0.1/'),
    blocked('OS-05', 'http://100.127.255.254/'),
    invalid('OS-06', `http://[fe80::1%25lo]:${p}/`, /^url contains an IPv6 zone id/),
    blocked('OS-07', `http://0.0.0.0:${q}/`, unspecified),
    blocked('OS-07', `http://0:${q}/`, unspecified),
    blocked('OS-07', `http://0.1.2.3:${q}/`),
    blocked('OS-07', `http://[::ffff:0.0.0.0]:${q}/`, unspecified),
    invalid('OS-08', `http://a@127.0.0.1:${p}/`, /^url contains credentials/),
    invalid('OS-08', `http://x:pw@[::1]:${p}/`, /^url contains credentials/),
    invalid('OS-08', `http://127.0.0.2:${p}@127.0.0.1:${p}/`, /^url contains credentials/),
    invalid('OS-08', `http://user:${URL_SECRET}@127.0.0.2:${r}/hook`),
    invalid('OS-09', `http://127.0.0.2:${r}\\@127.0.0.1:${p}/`, /^url contains a backslash/),
    invalid('OS-09', `http://127.0.\t0.1:${p}/`, /^url contains a control character/),
    invalid('OS-09', `http://127.0.0.2:${r}/a\r\nX-Injected: 1`, /^url contains a control character/),
    invalid('OS-09', `http://127.0.0.2:${r}/a\u0000b`, /^url contains a control character/),
    invalid('OS-09', `http://127.0.0.2:${r}/a b`, /^url contains a space/),
    blocked('OS-10', `http://loopback.example.test:${p}/`, LOOPBACK_V4),
    blocked('OS-10', `http://mixed.example.test:${p}/`, LOOPBACK_V4),
    blocked('OS-10', `http://v6-loopback.example.test:${p}/`, LOOPBACK_V6),
    blocked('OS-10', 'http://metadata.example.test/'),
  ];
}

/** Text that would reveal an internal address: dotted IPv4, an IPv6 literal, a resolved name. */
const INTERNAL_ADDRESS = /\d+\.\d+\.\d+\.\d+|::|\[|example\.test|localhost/;

describe('outbound safety: destinations', () => {
  let svc: TestService;
  let canary: Canary;
  let wildcard: Canary;
  let receiver: Receiver;
  const dns = new FakeResolver();

  before(async () => {
    canary = await startCanary(['127.0.0.1', '::1']);
    wildcard = await startCanary(['0.0.0.0', '::']);
    receiver = await startReceiver();
    dns.set('loopback.example.test', ['127.0.0.1']);
    // The first address is allowed and the second is not, so the name is blocked.
    dns.set('mixed.example.test', ['127.0.0.2', '127.0.0.1']);
    dns.set('v6-loopback.example.test', ['::1']);
    dns.set('metadata.example.test', ['169.254.169.254']);
    dns.set('receiver.example.test', ['127.0.0.2']);
    svc = await startService({ WEBHOOK_RETRY_SCHEDULE: '0,50ms,50ms' }, { lookup: dns.lookup });
  });
  after(async () => {
    await svc.close();
    await receiver.close();
    await canary.close();
    await wildcard.close();
    assert.equal(canary.connections(), 0, 'the canary on 127.0.0.1 and ::1 accepted a connection');
    assert.equal(wildcard.connections(), 0, 'the canary on all interfaces accepted a connection');
  });

  it('refuses each case at registration without echoing the address', async () => {
    for (const entry of destinationCases(canary.port, wildcard.port, receiver.port)) {
      const label = `${entry.id} ${JSON.stringify(entry.url)}`;
      const response = await createWebhook(svc.admin, entry.url);
      assert.equal(response.status, 400, `${label}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.code, entry.code, label);
      assert.equal(response.body.field, 'url', label);
      assert.doesNotMatch(response.body.message, INTERNAL_ADDRESS, label);
    }
    assert.equal(canary.connections(), 0);
    assert.equal(wildcard.connections(), 0);
  });

  it('blocks each stored case at send time', async () => {
    const created = await createWebhook(svc.admin, receiver.url);
    assert.equal(created.status, 201);
    for (const entry of destinationCases(canary.port, wildcard.port, receiver.port)) {
      if (entry.sendError === undefined) continue;
      // PostgreSQL cannot store a NUL character, so such a URL can never be in its rows.
      if (TEST_DATABASE === 'postgres' && entry.url.includes('\u0000')) continue;
      const label = `${entry.id} ${JSON.stringify(entry.url)}`;
      await storeUrl(svc, created.body.id, entry.url);
      const result = await testCall(svc.admin, created.body.id);
      assert.equal(result.success, false, label);
      assert.equal(result.error_kind, 'blocked', label);
      assert.match(result.error, entry.sendError, label);
      assert.equal(result.status_code, null, label);
      assert.equal(result.response_excerpt, null, label);
    }
    assert.equal(receiver.requests.length, 0);
    assert.equal(canary.connections(), 0);
    assert.equal(wildcard.connections(), 0);
  });

  it('answers the same for open and closed loopback ports (OS-02)', async () => {
    const created = await createWebhook(svc.admin, receiver.url);
    const ports = [canary.port, wildcard.port, await closedPort(), await closedPort()];
    const results = [];
    for (const port of ports) {
      await storeUrl(svc, created.body.id, `http://127.0.0.1:${port}/`);
      // Duration and the id of the delivery recording the call differ from call to call.
      const { duration_ms: _duration, delivery_id: _delivery, ...result } = await testCall(
        svc.admin,
        created.body.id,
      );
      results.push(result);
    }
    for (const result of results) {
      assert.deepEqual(result, {
        success: false,
        status_code: null,
        response_excerpt: null,
        error: 'blocked address 127.0.0.1 (loopback)',
        error_kind: 'blocked',
        redirects: [],
        event_type: 'completion',
      });
    }
    assert.equal(canary.connections(), 0);
    assert.equal(wildcard.connections(), 0);
  });

  it('keeps credentials from a URL out of storage and logs (OS-08)', async () => {
    const url = `http://user:${URL_SECRET}@127.0.0.2:${receiver.port}/hook`;
    const created = await createWebhook(svc.admin, url);
    assert.equal(created.status, 400);
    assert.match(created.body.message, /header/);
    assert.doesNotMatch(JSON.stringify(created.body), new RegExp(URL_SECRET));

    const patched = await svc.admin.patch('/api/v1/webhooks/wh_unknown', { url });
    assert.equal(patched.status, 404);
    const rows = await svc.service.db.selectFrom('webhooks').selectAll().execute();
    assert.doesNotMatch(JSON.stringify(rows), new RegExp(URL_SECRET));
    assert.doesNotMatch(fs.readFileSync(svc.logFile, 'utf8'), new RegExp(URL_SECRET));
  });

  it('stores and dials the parser serialisation (OS-09)', async () => {
    const created = await createWebhook(svc.admin, `HTTP://127.0.0.2:${receiver.port}/a/./b/../hook?x=1#part`);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.url, `http://127.0.0.2:${receiver.port}/a/hook?x=1`);
    const result = await testCall(svc.admin, created.body.id);
    assert.equal(result.success, true, result.error);
    assert.equal(receiver.requests.at(-1)?.path, '/a/hook?x=1');
  });

  it('dials a name at the address it checked', async () => {
    const created = await createWebhook(svc.admin, `http://receiver.example.test:${receiver.port}/named`);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const result = await testCall(svc.admin, created.body.id);
    assert.equal(result.success, true, result.error);
    const request = receiver.requests.at(-1);
    assert.equal(request?.path, '/named');
    assert.equal(request?.headers.host, `receiver.example.test:${receiver.port}`);
  });

  it('blocks a name that rebinds to loopback after registration (OS-10)', async () => {
    // The public address is returned once, to the registration check, which never connects.
    dns.setOnce('rebind.example.test', ['8.8.8.8']);
    dns.set('rebind.example.test', ['127.0.0.1']);
    const created = await createWebhook(svc.admin, `http://rebind.example.test:${canary.port}/`);
    assert.equal(created.status, 201, JSON.stringify(created.body));

    const result = await testCall(svc.admin, created.body.id);
    assert.equal(result.error_kind, 'blocked');
    assert.equal(result.error, 'blocked address 127.0.0.1 (loopback)');
    assert.equal(dns.calls.filter((name) => name === 'rebind.example.test').length, 2);
    const recorded = await svc.admin.get(`/api/v1/deliveries/${result.delivery_id}`);
    assert.equal(recorded.body.attempts[0]?.error_kind, 'blocked');
    assert.equal(recorded.body.attempts[0]?.error, 'blocked address 127.0.0.1 (loopback)');
    assert.equal(canary.connections(), 0);
  });

  it('records a blocked delivery once, logs it and never retries it', async () => {
    dns.setOnce('rebind-delivery.example.test', ['8.8.8.8']);
    dns.set('rebind-delivery.example.test', ['::ffff:127.0.0.1']);
    const url = `http://rebind-delivery.example.test:${canary.port}/hook`;
    const created = await createWebhook(svc.admin, url, {
      event_types: ['submission'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));

    await submitReport(svc);
    const delivery = await finishedDelivery(svc.admin, created.body.id);
    assert.equal(delivery.status, 'failed');
    assert.equal(delivery.last_error, 'blocked address ::ffff:127.0.0.1 (loopback)');
    assert.equal(delivery.attempts.length, 1);
    assert.equal(delivery.attempts[0].error_kind, 'blocked');
    assert.equal(delivery.attempts[0].status_code, null);
    assert.equal(delivery.attempts[0].response_excerpt, null);

    // The schedule allows two retries 50 ms apart; a blocked attempt must use neither.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const again = await svc.admin.get(`/api/v1/deliveries/${delivery.id}`);
    assert.equal(again.body.attempts.length, 1);
    assert.equal(again.body.status, 'failed');

    const logged = fs
      .readFileSync(svc.logFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes(delivery.id) && line.includes('delivery failed'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(logged.length, 1);
    assert.equal(logged[0]?.error, 'blocked address ::ffff:127.0.0.1 (loopback)');
    assert.equal(logged[0]?.error_kind, 'blocked');
  });
});

describe('outbound safety: WEBHOOK_ALLOWED_PORTS', () => {
  let svc: TestService;
  let receiver: Receiver;
  let other: Receiver;

  before(async () => {
    receiver = await startReceiver();
    other = await startReceiver();
    svc = await startService({ WEBHOOK_ALLOWED_PORTS: `${receiver.port},443` });
  });
  after(async () => {
    await svc.close();
    await receiver.close();
    await other.close();
  });

  it('refuses a port outside the list at registration', async () => {
    const response = await createWebhook(svc.admin, other.url);
    assert.equal(response.status, 400);
    assert.equal(response.body.code, 'blocked_destination');
    assert.equal(response.body.field, 'url');
    assert.match(response.body.message, new RegExp(`port ${other.port}; webhooks may use only ports ${receiver.port}, 443`));
  });

  it('sends to a listed port', async () => {
    const created = await createWebhook(svc.admin, receiver.url);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal((await testCall(svc.admin, created.body.id)).success, true);
  });

  it('blocks a stored URL with an unlisted port at send time', async () => {
    const created = await createWebhook(svc.admin, receiver.url);
    await storeUrl(svc, created.body.id, other.url);
    const result = await testCall(svc.admin, created.body.id);
    assert.equal(result.error_kind, 'blocked');
    assert.match(result.error, new RegExp(`uses port ${other.port}`));
    assert.equal(other.connections(), 0);
  });

  it('blocks a redirect to an unlisted port', async () => {
    receiver.setBehaviour(() => ({ status: 307, headers: { location: other.url } }));
    const created = await createWebhook(svc.admin, receiver.url, { follow_redirects: true });
    const result = await testCall(svc.admin, created.body.id);
    assert.equal(result.error_kind, 'blocked');
    assert.match(result.error, new RegExp(`uses port ${other.port}`));
    assert.equal(other.connections(), 0);
  });
});
