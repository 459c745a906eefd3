import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { LoginThrottle } from '../src/auth/throttle.js';
import { ApiClient } from './helpers/api.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startService, type TestService } from './helpers/service.js';

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

describe('LoginThrottle', () => {
  it('lifts a lockout after its duration', () => {
    let now = 1_000_000;
    const throttle = new LoginThrottle({ maxFailures: 2, lockoutMs: 60_000, now: () => now });
    throttle.recordFailure('a@example.test', '127.0.0.1');
    throttle.recordFailure('A@example.test ', '127.0.0.1');
    assert.throws(
      () => allowed(throttle, 'a@example.test', '127.0.0.1'),
      /try again in 60 seconds/,
    );

    now += 59_000;
    assert.throws(
      () => allowed(throttle, 'a@example.test', '127.0.0.1'),
      /try again in 1 second\./,
    );
    now += 1_000;
    assert.doesNotThrow(() => allowed(throttle, 'a@example.test', '127.0.0.1'));
  });

  it('slows down from half the limit on', () => {
    const throttle = new LoginThrottle({ maxFailures: 6, lockoutMs: 60_000, now: () => 0 });
    const delays: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      delays.push(throttle.delayMs('b@example.test', '10.0.0.1'));
      throttle.recordFailure('b@example.test', '10.0.0.1');
    }
    assert.deepEqual(delays, [0, 0, 0, 250, 500]);
  });

  it('forgets failures older than the lockout window', () => {
    let now = 0;
    const throttle = new LoginThrottle({ maxFailures: 2, lockoutMs: 60_000, now: () => now });
    throttle.recordFailure('c@example.test', '10.0.0.2');
    now += 60_000;
    throttle.recordFailure('c@example.test', '10.0.0.2');
    assert.doesNotThrow(() => allowed(throttle, 'c@example.test', '10.0.0.2'));
  });
});

describe('LoginThrottle parallel attempts', () => {
  it('counts running attempts against the limit', () => {
    const throttle = new LoginThrottle({ maxFailures: 2, lockoutMs: 60_000, now: () => 0 });
    throttle.recordFailure('d@example.test', '10.0.0.3');
    const end = throttle.begin('d@example.test', '10.0.0.3');
    assert.throws(() => throttle.begin('d@example.test', '10.0.0.3'), /try again in 1 second/);
    end();
    assert.doesNotThrow(() => throttle.begin('d@example.test', '10.0.0.3')());
  });
});

/** Starts and at once ends an attempt: throws exactly when a new attempt would be refused. */
function allowed(throttle: LoginThrottle, email: string, address: string): void {
  throttle.begin(email, address)();
}
