import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiClient } from './helpers/api.js';
import { startService, type TestService } from './helpers/service.js';

const ADMIN_ROUTES: ReadonlyArray<[string, string, unknown?]> = [
  ['GET', '/api/v1/webhooks'],
  ['POST', '/api/v1/webhooks', { name: 'n', url: 'http://127.0.0.2:9/', event_types: ['submission'] }],
  ['GET', '/api/v1/webhooks/wh_x'],
  ['PATCH', '/api/v1/webhooks/wh_x', { name: 'n' }],
  ['DELETE', '/api/v1/webhooks/wh_x'],
  ['GET', '/api/v1/webhooks/wh_x/secret'],
  ['POST', '/api/v1/webhooks/wh_x/test'],
  ['GET', '/api/v1/webhooks/wh_x/deliveries'],
  ['GET', '/api/v1/deliveries/dlv_x'],
  ['POST', '/api/v1/deliveries/dlv_x/redeliver'],
  ['GET', '/api/v1/users'],
  ['POST', '/api/v1/users', { email: 'x@example.test', password: 'long-enough-password', role: 'Engineer' }],
  ['POST', '/webhooks/api/create', { name: 'n', url: 'http://127.0.0.2:9/', event_type: 'submission' }],
  ['PUT', '/webhooks/api/update/wh_x', { name: 'n' }],
  ['DELETE', '/webhooks/api/delete/wh_x'],
  ['POST', '/webhooks/api/test/wh_x'],
];

describe('access control', () => {
  let svc: TestService;
  let engineer: ApiClient;
  let approver: ApiClient;

  before(async () => {
    svc = await startService();
    engineer = await svc.userClient('Engineer');
    approver = await svc.userClient('Approver');
  });
  after(() => svc.close());

  it('answers 401 without a token on every management route', async () => {
    const anonymous = new ApiClient(svc.url, undefined);
    for (const [method, path, body] of ADMIN_ROUTES) {
      const response = await anonymous.request(method, path, body);
      assert.equal(response.status, 401, `${method} ${path}`);
      assert.equal(response.body.code, 'unauthorized', `${method} ${path}`);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer', `${method} ${path}`);
    }
  });

  it('answers 401 for an unknown or malformed token', async () => {
    for (const token of ['wht_not-a-real-token', 'garbage', '']) {
      const response = await new ApiClient(svc.url, token || 'x').get('/api/v1/webhooks');
      assert.equal(response.status, 401, token);
    }
  });

  it('answers 403 to Engineers and Approvers on every management route', async () => {
    for (const client of [engineer, approver]) {
      for (const [method, path, body] of ADMIN_ROUTES) {
        const response = await client.request(method, path, body);
        assert.equal(response.status, 403, `${method} ${path}`);
        assert.equal(response.body.code, 'forbidden', `${method} ${path}`);
      }
    }
  });

  it('lets only authors create and submit and only approvers decide', async () => {
    const draft = await approver.post('/api/v1/reports', { type: 'SAT', title: 'T', reference: 'R', client: 'C' });
    assert.equal(draft.status, 403);

    const report = await engineer.post('/api/v1/reports', { type: 'SAT', title: 'T', reference: 'R', client: 'C' });
    assert.equal(report.status, 201);
    const id = report.body.id as string;
    const otherEngineer = await svc.userClient('Engineer');
    assert.equal((await otherEngineer.post(`/api/v1/reports/${id}/submit`)).status, 403);
    assert.equal((await approver.post(`/api/v1/reports/${id}/submit`)).status, 403);
    assert.equal((await engineer.post(`/api/v1/reports/${id}/submit`)).status, 200);

    assert.equal((await engineer.post(`/api/v1/reports/${id}/approve`)).status, 403);
    assert.equal((await engineer.post(`/api/v1/reports/${id}/reject`, { reason: 'no' })).status, 403);
    assert.equal((await engineer.post(`/api/v1/reports/${id}/complete`)).status, 403);
    assert.equal((await approver.post(`/api/v1/reports/${id}/approve`)).status, 200);
  });

  it('rejects a wrong password with the same answer as an unknown email', async () => {
    const anonymous = new ApiClient(svc.url, undefined);
    const wrong = await anonymous.post('/api/v1/auth/token', { email: 'admin@example.test', password: 'wrong-password' });
    const unknown = await anonymous.post('/api/v1/auth/token', { email: 'nobody@example.test', password: 'wrong-password' });
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.deepEqual(wrong.body, unknown.body);
  });

  it('stops accepting a token after it expires', async () => {
    const short = await startService({ TOKEN_TTL: '1m' });
    try {
      const now = Date.now();
      await short.service.db.updateTable('api_tokens').set({ expires_at: now - 1 }).execute();
      const response = await short.admin.get('/api/v1/webhooks');
      assert.equal(response.status, 401);
    } finally {
      await short.close();
    }
  });

  it('stores tokens only as hashes', async () => {
    const rows = await svc.service.db.selectFrom('api_tokens').select('token_hash').execute();
    assert.ok(rows.length > 0);
    for (const row of rows) {
      assert.match(row.token_hash, /^[0-9a-f]{64}$/);
      assert.notEqual(row.token_hash, svc.admin.token);
    }
    const users = await svc.service.db.selectFrom('users').select('password_hash').execute();
    for (const user of users) assert.match(user.password_hash, /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
  });
});
