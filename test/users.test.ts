import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiClient } from './helpers/api.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startService, type TestService } from './helpers/service.js';

describe('user management', () => {
  let svc: TestService;
  let adminId: string;

  before(async () => {
    svc = await startService();
    adminId = (await svc.admin.get('/api/v1/users/me')).body.id as string;
  });
  after(async () => svc.close());

  it('last active Admin cannot be demoted', async () => {
    const response = await svc.admin.patch(`/api/v1/users/${adminId}`, { role: 'Engineer' });
    assert.equal(response.status, 409);
    assert.equal(response.body.code, 'conflict');
    assert.equal(response.body.field, 'role');
    assert.match(response.body.message, /last active Admin/);
    assert.equal((await svc.admin.get('/api/v1/users/me')).body.role, 'Admin');
  });

  it('last active Admin cannot be deactivated', async () => {
    const response = await svc.admin.patch(`/api/v1/users/${adminId}`, { is_active: false });
    assert.equal(response.status, 409);
    assert.equal(response.body.field, 'is_active');
    assert.equal((await svc.admin.get('/api/v1/users/me')).status, 200);
  });

  it('an inactive Admin does not count', async () => {
    const second = await svc.createUser('Admin');
    const list = (await svc.admin.get('/api/v1/users')).body.data as Array<{
      id: string;
      email: string;
    }>;
    const secondId = list.find((user) => user.email === second.email)?.id ?? '';
    assert.equal(
      (await svc.admin.patch(`/api/v1/users/${secondId}`, { is_active: false })).status,
      200,
    );

    const response = await svc.admin.patch(`/api/v1/users/${adminId}`, { role: 'Approver' });
    assert.equal(response.status, 409);
  });

  it('changes role when another Admin remains', async () => {
    const other = await svc.createUser('Admin');
    const otherClient = await ApiClient.signIn(svc.url, other.email, other.password);
    const engineer = await svc.createUser('Engineer');
    const list = (await svc.admin.get('/api/v1/users')).body.data as Array<{
      id: string;
      email: string;
    }>;
    const engineerId = list.find((user) => user.email === engineer.email)?.id ?? '';

    const promoted = await otherClient.patch(`/api/v1/users/${engineerId}`, { role: 'Approver' });
    assert.equal(promoted.status, 200);
    assert.equal(promoted.body.role, 'Approver');

    const demoted = await otherClient.patch(`/api/v1/users/${adminId}`, { role: 'Engineer' });
    assert.equal(demoted.status, 200);
    assert.equal(demoted.body.role, 'Engineer');
    assert.equal(
      (await svc.admin.get('/api/v1/users')).status,
      403,
      'the old token now has the new role',
    );

    const restored = await otherClient.patch(`/api/v1/users/${adminId}`, { role: 'Admin' });
    assert.equal(restored.status, 200);
  });

  it('deactivation ends tokens and sessions', async () => {
    const user = await svc.createUser('Approver');
    const token = await ApiClient.signIn(svc.url, user.email, user.password);
    const session = await ApiClient.startSession(svc.url, user.email, user.password);
    const list = (await svc.admin.get('/api/v1/users')).body.data as Array<{
      id: string;
      email: string;
    }>;
    const id = list.find((entry) => entry.email === user.email)?.id ?? '';

    const response = await svc.admin.patch(`/api/v1/users/${id}`, { is_active: false });
    assert.equal(response.status, 200);
    assert.equal(response.body.is_active, false);
    assert.equal((await token.get('/api/v1/users/me')).status, 401);
    assert.equal((await session.client.get('/api/v1/auth/session')).status, 401);
    const login = await new ApiClient(svc.url, undefined).post('/api/v1/auth/token', {
      email: user.email,
      password: user.password,
    });
    assert.equal(login.status, 401);
  });

  it('rejects unknown user and bad role', async () => {
    assert.equal(
      (await svc.admin.patch('/api/v1/users/usr_missing', { role: 'Admin' })).status,
      404,
    );
    const bad = await svc.admin.patch(`/api/v1/users/${adminId}`, { role: 'Root' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'role');
  });

  it('non-Admins cannot change users', async () => {
    const engineer = await svc.userClient('Engineer');
    assert.equal(
      (await engineer.patch(`/api/v1/users/${adminId}`, { is_active: false })).status,
      403,
    );
  });

  it('keeps one Admin when two demote each other', async () => {
    // Round after round, the remaining Admin and a new one demote each other at once.
    const pair = await startService();
    try {
      let survivor = { client: pair.admin, id: (await pair.admin.get('/api/v1/users/me')).body.id as string };
      for (let round = 0; round < 8; round++) {
        const email = `rival${round}@example.test`;
        const password = `rival-password-${round}-long`;
        const created = await survivor.client.post('/api/v1/users', { email, password, role: 'Admin' });
        assert.equal(created.status, 201);
        const rival = { client: await ApiClient.signIn(pair.url, email, password), id: created.body.id as string };

        const [first, second] = await Promise.all([
          survivor.client.patch(`/api/v1/users/${rival.id}`, { role: 'Engineer' }),
          rival.client.patch(`/api/v1/users/${survivor.id}`, { role: 'Engineer' }),
        ]);
        const admins = await pair.service.db
          .selectFrom('users')
          .select('id')
          .where('role', '=', 'Admin')
          .where('is_active', '=', 1)
          .execute();
        assert.equal(admins.length, 1, `round ${round}: ${first.status} and ${second.status}`);
        if (admins[0]!.id === rival.id) survivor = rival;
      }
    } finally {
      await pair.close();
    }
  });

  it('the first Admin can still sign in', async () => {
    await ApiClient.signIn(svc.url, ADMIN_EMAIL, ADMIN_PASSWORD);
  });
});
