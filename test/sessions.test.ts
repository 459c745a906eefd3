import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../src/config/config.js';
import { ApiClient } from './helpers/api.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startService, type TestService } from './helpers/service.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';

describe('browser sessions', () => {
  let svc: TestService;
  let receiver: Receiver;

  before(async () => {
    svc = await startService();
    receiver = await startReceiver();
  });
  after(async () => {
    await receiver.close();
    await svc.close();
  });

  const webhookBody = () => ({
    name: 'Session hook',
    url: receiver.url,
    event_types: ['submission'],
  });

  it('login sets an HttpOnly SameSite=Lax cookie', async () => {
    const session = await ApiClient.startSession(svc.url, ADMIN_EMAIL, ADMIN_PASSWORD);
    assert.match(session.setCookie, /^rw_session=[A-Za-z0-9_-]{43};/);
    assert.match(session.setCookie, /; HttpOnly/i);
    assert.match(session.setCookie, /; SameSite=Lax/i);
    assert.match(session.setCookie, /; Path=\//i);
    assert.match(session.setCookie, /; Expires=/i);
    assert.doesNotMatch(session.setCookie, /; Secure/i, 'plain HTTP cannot carry a Secure cookie');
    assert.match(session.csrfToken, /^[A-Za-z0-9_-]{43}$/);

    const me = await session.client.get('/api/v1/auth/session');
    assert.equal(me.status, 200);
    assert.equal(me.body.user.email, ADMIN_EMAIL);
    assert.equal(me.body.csrf_token, session.csrfToken);
  });

  it('login rotates the session id', async () => {
    const first = await ApiClient.startSession(svc.url, ADMIN_EMAIL, ADMIN_PASSWORD);
    const again = await first.client.post('/api/v1/auth/login', {
      email: ADMIN_EMAIL,
      password: ADMIN_PASSWORD,
    });
    assert.equal(again.status, 200);
    const second = (again.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    assert.notEqual(second, first.cookie);
    assert.notEqual(again.body.csrf_token, first.csrfToken);

    assert.equal(
      (await first.client.get('/api/v1/auth/session')).status,
      401,
      'the old id no longer works',
    );
    const renewed = new ApiClient(svc.url, undefined, { cookie: second });
    assert.equal((await renewed.get('/api/v1/auth/session')).status, 200);
  });

  it('logout ends the session and clears the cookie', async () => {
    const session = await ApiClient.startSession(svc.url, ADMIN_EMAIL, ADMIN_PASSWORD);
    const withoutToken = new ApiClient(svc.url, undefined, {
      cookie: session.cookie,
      origin: svc.url,
    });
    assert.equal(
      (await withoutToken.post('/api/v1/auth/logout')).status,
      403,
      'logout needs the CSRF token',
    );

    const out = await session.client.post('/api/v1/auth/logout');
    assert.equal(out.status, 204);
    assert.match(out.headers.get('set-cookie') ?? '', /^rw_session=;.*Expires=Thu, 01 Jan 1970/i);
    assert.equal((await session.client.get('/api/v1/auth/session')).status, 401);
  });

  it('unsafe request without CSRF token is rejected', async () => {
    const session = await ApiClient.startSession(svc.url, ADMIN_EMAIL, ADMIN_PASSWORD);
    const noToken = new ApiClient(svc.url, undefined, { cookie: session.cookie, origin: svc.url });
    const response = await noToken.post('/api/v1/webhooks', webhookBody());
    assert.equal(response.status, 403);
    assert.equal(response.body.code, 'csrf_failed');
    assert.match(response.body.message, /x-csrf-token/);

    const wrongToken = noToken.withHeaders({ 'x-csrf-token': 'A'.repeat(43) });
    assert.equal((await wrongToken.post('/api/v1/webhooks', webhookBody())).status, 403);
    assert.equal(
      (await svc.admin.get('/api/v1/webhooks')).body.data.length,
      0,
      'nothing was created',
    );
  });

  it('unsafe request from another origin is rejected', async () => {
    const session = await ApiClient.startSession(svc.url, ADMIN_EMAIL, ADMIN_PASSWORD);
    const crossSite = session.client.withHeaders({ origin: 'http://attacker.example' });
    const response = await crossSite.post('/api/v1/webhooks', webhookBody());
    assert.equal(response.status, 403);
    assert.equal(response.body.code, 'csrf_failed');
    assert.match(response.body.message, /attacker\.example/);

    const noOrigin = new ApiClient(svc.url, undefined, {
      cookie: session.cookie,
      'x-csrf-token': session.csrfToken,
      referer: 'http://attacker.example/page',
    });
    assert.equal((await noOrigin.post('/api/v1/webhooks', webhookBody())).status, 403);
  });

  it('cookie session with token and origin may write', async () => {
    const session = await ApiClient.startSession(svc.url, ADMIN_EMAIL, ADMIN_PASSWORD);
    const created = await session.client.post('/api/v1/webhooks', webhookBody());
    assert.equal(created.status, 201);
    assert.equal((await session.client.delete(`/api/v1/webhooks/${created.body.id}`)).status, 204);
  });

  it('bearer tokens need no CSRF token', async () => {
    const script = svc.admin.withHeaders({ origin: 'http://elsewhere.example' });
    const created = await script.post('/api/v1/webhooks', webhookBody());
    assert.equal(created.status, 201);
    assert.equal((await script.delete(`/api/v1/webhooks/${created.body.id}`)).status, 204);
  });

  it('login from another origin is rejected', async () => {
    const crossSite = new ApiClient(svc.url, undefined, { origin: 'http://attacker.example' });
    const response = await crossSite.post('/api/v1/auth/login', {
      email: ADMIN_EMAIL,
      password: ADMIN_PASSWORD,
    });
    assert.equal(response.status, 403);
    assert.equal(response.headers.get('set-cookie'), null);
  });

  it('console pages redirect to login when signed out', async () => {
    const anonymous = new ApiClient(svc.url, undefined);
    for (const path of [
      '/webhooks/manage',
      '/webhooks/manage/wh_1/edit',
      '/console/users',
      '/console/reports',
    ]) {
      const response = await anonymous.get(path);
      assert.equal(response.status, 302, path);
      assert.equal(
        response.headers.get('location'),
        `/console/login?next=${encodeURIComponent(path)}`,
      );
    }
  });

  it('console pages answer 403 to non-Admins', async () => {
    const engineer = await svc.createUser('Engineer');
    const session = await ApiClient.startSession(svc.url, engineer.email, engineer.password);
    assert.equal((await session.client.get('/webhooks/manage')).status, 403);
    assert.equal((await session.client.get('/console/users')).status, 403);
    const reports = await session.client.get('/console/reports');
    assert.equal(reports.status, 200);
    assert.match(String(reports.body), /<div id="app">/);
  });

  it('console page carries security headers', async () => {
    const session = await ApiClient.startSession(svc.url, ADMIN_EMAIL, ADMIN_PASSWORD);
    const page = await session.client.get('/webhooks/manage');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.equal(page.headers.get('cache-control'), 'no-store');
  });
});

describe('session expiry', () => {
  let svc: TestService;
  before(async () => {
    svc = await startService({ SESSION_TTL: '1s' });
  });
  after(async () => svc.close());

  it('expired session is refused', async () => {
    const session = await ApiClient.startSession(svc.url, ADMIN_EMAIL, ADMIN_PASSWORD);
    assert.equal((await session.client.get('/api/v1/auth/session')).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    assert.equal((await session.client.get('/api/v1/auth/session')).status, 401);
    assert.equal((await session.client.get('/webhooks/manage')).status, 302);
  });
});

describe('sessions behind a TLS proxy', () => {
  const publicUrl = 'https://hooks.example.test';
  let svc: TestService;
  before(async () => {
    svc = await startService({ PUBLIC_URL: `${publicUrl}/console` });
  });
  after(async () => svc.close());

  it('PUBLIC_URL sets Secure and the expected origin', async () => {
    const viaProxy = new ApiClient(svc.url, undefined, { origin: publicUrl });
    const login = await viaProxy.post('/api/v1/auth/login', {
      email: ADMIN_EMAIL,
      password: ADMIN_PASSWORD,
    });
    assert.equal(login.status, 200);
    const setCookie = login.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /; Secure/i);

    const cookie = setCookie.split(';')[0] ?? '';
    const session = viaProxy.withHeaders({
      cookie,
      'x-csrf-token': login.body.csrf_token as string,
    });
    const created = await session.post('/api/v1/reports', {
      type: 'SAT',
      title: 'Via proxy',
      reference: 'P-1',
      client: 'Client',
    });
    assert.equal(created.status, 201);

    const direct = session.withHeaders({ origin: svc.url });
    assert.equal(
      (
        await direct.post('/api/v1/reports', {
          type: 'SAT',
          title: 'x',
          reference: 'y',
          client: 'z',
        })
      ).status,
      403,
    );
  });

  it('rejects a PUBLIC_URL that is not http', () => {
    assert.throws(
      () => loadConfig({ PUBLIC_URL: 'ftp://hooks.example.test' }),
      /PUBLIC_URL.*not an http or https URL/,
    );
  });
});
