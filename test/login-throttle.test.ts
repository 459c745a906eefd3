import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { LoginThrottle } from '../src/auth/throttle.js';
import { ApiClient } from './helpers/api.js';
import { createTestDatabase, openTestDatabase, type OpenTestDatabase } from './helpers/database.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startService, tempDir, type TestService } from './helpers/service.js';

// LOGIN_MAX_FAILURES=2 locks an email after 2 failures and an address after 8 (4 times as many).
describe('login throttling', () => {
  let svc: TestService;
  let anonymous: ApiClient;

  beforeEach(async () => {
    svc = await startService({ LOGIN_MAX_FAILURES: '2', LOGIN_LOCKOUT: '1m' });
    anonymous = new ApiClient(svc.url, undefined);
  });
  afterEach(async () => svc.close());

  const attempt = (email: string, password: string, path = '/api/v1/auth/token') =>
    anonymous.post(path, { email, password });

  it('locks an account after repeated failures', async () => {
    assert.equal((await attempt(ADMIN_EMAIL, 'wrong-password-1')).status, 401);
    assert.equal((await attempt(ADMIN_EMAIL, 'wrong-password-2')).status, 401);

    const locked = await attempt(ADMIN_EMAIL, ADMIN_PASSWORD);
    assert.equal(locked.status, 429, 'even the right password is refused while locked');
    assert.equal(locked.body.code, 'too_many_requests');
    assert.match(locked.body.message, /try again in \d+ seconds/);
    const retryAfter = Number(locked.headers.get('retry-after'));
    assert.ok(retryAfter > 50, `Retry-After ${retryAfter}`);
    assert.ok(retryAfter <= 60, `Retry-After ${retryAfter}`);

    const browser = await attempt(ADMIN_EMAIL, ADMIN_PASSWORD, '/api/v1/auth/login');
    assert.equal(browser.status, 429, 'browser sign-in shares the counters');
  });

  it('unknown and known emails get the same answers', async () => {
    const known: Array<{ status: number; body: unknown }> = [];
    const unknown: Array<{ status: number; body: unknown }> = [];
    for (let i = 0; i < 3; i += 1) {
      const a = await attempt(ADMIN_EMAIL, `wrong-${i}`);
      known.push({ status: a.status, body: a.body });
      const b = await attempt('nobody@example.test', `wrong-${i}`);
      unknown.push({ status: b.status, body: b.body });
    }
    assert.deepEqual(
      unknown.map((entry) => entry.status),
      known.map((entry) => entry.status),
    );
    assert.deepEqual(unknown[0]?.body, known[0]?.body);
    assert.equal(known[2]?.status, 429);
  });

  it('locks an address that tries many emails', async () => {
    for (let i = 0; i < 8; i += 1) {
      assert.equal(
        (await attempt(`guess${i}@example.test`, 'wrong-password')).status,
        401,
        `attempt ${i + 1}`,
      );
    }
    const locked = await attempt(ADMIN_EMAIL, ADMIN_PASSWORD);
    assert.equal(locked.status, 429);
  });

  it('success resets the account counter', async () => {
    assert.equal((await attempt(ADMIN_EMAIL, 'wrong-password')).status, 401);
    assert.equal((await attempt(ADMIN_EMAIL, ADMIN_PASSWORD)).status, 200);
    assert.equal((await attempt(ADMIN_EMAIL, 'wrong-password')).status, 401);
    assert.equal((await attempt(ADMIN_EMAIL, ADMIN_PASSWORD)).status, 200);
  });
});

describe('login throttling across processes', () => {
  it('keeps a lockout across a restart', async () => {
    const database = await createTestDatabase(tempDir('throttle-restart-'));
    const env = { DATABASE_URL: database.url, LOGIN_MAX_FAILURES: '2', LOGIN_LOCKOUT: '1m' };
    const signIn = (svc: TestService) =>
      new ApiClient(svc.url, undefined).post('/api/v1/auth/token', { email: 'nobody@example.test', password: 'wrong' });
    try {
      const first = await startService(env);
      assert.equal((await signIn(first)).status, 401);
      assert.equal((await signIn(first)).status, 401);
      await first.close();

      const second = await startService(env);
      try {
        assert.equal((await signIn(second)).status, 429);
      } finally {
        await second.close();
      }
    } finally {
      await database.drop();
    }
  });
});

describe('LoginThrottle', () => {
  let database: OpenTestDatabase;
  beforeEach(async () => {
    database = await openTestDatabase(tempDir('throttle-'));
  });
  afterEach(async () => database.close());

  const throttleFor = (maxFailures: number, clock: () => number) =>
    new LoginThrottle(database.db, { maxFailures, lockoutMs: 60_000, now: clock });

  it('lifts a lockout after its duration', async () => {
    let now = 1_000_000;
    const throttle = throttleFor(2, () => now);
    await fail(throttle, 'a@example.test', '127.0.0.1');
    await fail(throttle, 'A@example.test ', '127.0.0.1');
    await assert.rejects(allowed(throttle, 'a@example.test', '127.0.0.1'), /try again in 60 seconds/);

    now += 59_000;
    await assert.rejects(allowed(throttle, 'a@example.test', '127.0.0.1'), /try again in 1 second\./);
    now += 1_000;
    await allowed(throttle, 'a@example.test', '127.0.0.1');
  });

  it('slows down from half the limit on', async () => {
    const throttle = throttleFor(6, () => 0);
    const delays: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const attempt = await throttle.begin('b@example.test', '10.0.0.1');
      delays.push(attempt.delayMs);
      await attempt.failed();
    }
    assert.deepEqual(delays, [0, 0, 0, 250, 500]);
  });

  it('forgets failures older than the lockout window', async () => {
    let now = 0;
    const throttle = throttleFor(2, () => now);
    await fail(throttle, 'c@example.test', '10.0.0.2');
    now += 60_000;
    await fail(throttle, 'c@example.test', '10.0.0.2');
    await allowed(throttle, 'c@example.test', '10.0.0.2');
  });

  it('shares counts across throttles', async () => {
    // Two throttles stand for two service processes behind one load balancer.
    const first = throttleFor(3, () => 0);
    const second = throttleFor(3, () => 0);
    await fail(first, 'e@example.test', '10.0.0.4');
    await fail(second, 'e@example.test', '10.0.0.5');
    await fail(first, 'e@example.test', '10.0.0.6');
    await assert.rejects(allowed(second, 'e@example.test', '10.0.0.7'), /too many failed sign-ins/i);
    await assert.rejects(allowed(first, 'e@example.test', '10.0.0.7'), /too many failed sign-ins/i);
  });

  it('bounds parallel guesses across throttles', async () => {
    const throttles = [throttleFor(3, () => 0), throttleFor(3, () => 0)];
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, index) => throttles[index % 2]!.begin('i@example.test', `10.0.1.${index}`)),
    );
    assert.equal(results.filter((result) => result.status === 'fulfilled').length, 3);
    assert.equal(results.filter((result) => result.status === 'rejected').length, 7);
  });

  it('starts one lockout when failures race', async () => {
    const lockouts: string[] = [];
    const throttles = Array.from(
      { length: 2 },
      () =>
        new LoginThrottle(database.db, {
          maxFailures: 4,
          lockoutMs: 60_000,
          now: () => 0,
          onLockout: (lockout) => lockouts.push(lockout.kind),
        }),
    );
    const attempts = await Promise.all(
      Array.from({ length: 4 }, (_, index) => throttles[index % 2]!.begin('f@example.test', '10.0.0.8')),
    );
    await assert.rejects(throttles[0]!.begin('f@example.test', '10.0.0.8'), /try again in 1 second/);
    // Every failure finds the count at the limit, and only the first of them locks.
    await Promise.all(attempts.map((attempt) => attempt.failed()));
    assert.deepEqual(lockouts, ['email']);
  });

  it('keeps address count after success', async () => {
    const throttle = throttleFor(2, () => 0);
    await fail(throttle, 'g@example.test', '10.0.0.9');
    const attempt = await throttle.begin('g@example.test', '10.0.0.9');
    await attempt.succeeded();
    await attempt.end();
    await allowed(throttle, 'g@example.test', '10.0.0.9');
    // The email's count started over at 0; the address keeps its failure.
    const rows = await database.db.selectFrom('login_failures').select('failures').execute();
    assert.deepEqual(rows.map((row) => Number(row.failures)).sort(), [0, 1]);
  });

  it('prunes counts older than the lockout', async () => {
    let now = 0;
    const throttle = throttleFor(2, () => now);
    await fail(throttle, 'h@example.test', '10.0.0.10');
    assert.equal(await throttle.prune(), 0);
    now += 60_000;
    assert.equal(await throttle.prune(), 2);
  });

  it('stores digests, not emails or addresses', async () => {
    const throttle = throttleFor(2, () => 0);
    await fail(throttle, 'secret-person@example.test', '10.0.0.11');
    const keys = (await database.db.selectFrom('login_failures').select('key').execute()).map((row) => row.key);
    assert.equal(keys.length, 2);
    for (const key of keys) {
      assert.match(key, /^[0-9a-f]{64}$/);
    }
  });
});

describe('LoginThrottle parallel attempts', () => {
  let database: OpenTestDatabase;
  beforeEach(async () => {
    database = await openTestDatabase(tempDir('throttle-'));
  });
  afterEach(async () => database.close());

  it('counts running attempts against the limit', async () => {
    const throttle = new LoginThrottle(database.db, { maxFailures: 2, lockoutMs: 60_000, now: () => 0 });
    await fail(throttle, 'd@example.test', '10.0.0.3');
    const attempt = await throttle.begin('d@example.test', '10.0.0.3');
    await assert.rejects(throttle.begin('d@example.test', '10.0.0.3'), /try again in 1 second/);
    await attempt.end();
    await allowed(throttle, 'd@example.test', '10.0.0.3');
  });

  it('takes back an unfinished attempt', async () => {
    const throttle = new LoginThrottle(database.db, { maxFailures: 2, lockoutMs: 60_000, now: () => 0 });
    const attempt = await throttle.begin('j@example.test', '10.0.0.12');
    await attempt.end();
    const rows = await database.db.selectFrom('login_failures').select('failures').execute();
    assert.deepEqual(
      rows.map((row) => Number(row.failures)),
      [0, 0],
    );
  });
});

/** Runs one attempt with a wrong password. */
async function fail(throttle: LoginThrottle, email: string, address: string): Promise<void> {
  const attempt = await throttle.begin(email, address);
  await attempt.failed();
}

/** Starts and at once ends an attempt: rejects exactly when a new attempt would be refused. */
async function allowed(throttle: LoginThrottle, email: string, address: string): Promise<void> {
  await (await throttle.begin(email, address)).end();
}
