import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyJitter, decideAfterAttempt, parseRetryAfter, type RetryOptions } from '../src/delivery/retry-policy.js';

const NOW = Date.parse('2026-01-15T09:30:00Z');
const options = (extra: Partial<RetryOptions> = {}): RetryOptions => ({
  scheduleMs: [0, 5_000, 60_000, 600_000],
  jitter: 0,
  random: () => 0.5,
  now: NOW,
  ...extra,
});
const failure = (statusCode: number | null, retryAfter?: string) => ({
  failure: statusCode === null ? ('timeout' as const) : ('http_status' as const),
  statusCode,
  retryAfter,
});

describe('retry policy', () => {
  it('succeeds without a failure', () => {
    const decision = decideAfterAttempt(options(), 1, 'automatic', { failure: undefined, statusCode: 204 });
    assert.deepEqual(decision, { status: 'succeeded' });
  });

  it('follows the schedule and fails when it is used up', () => {
    assert.deepEqual(decideAfterAttempt(options(), 1, 'automatic', failure(500)), { status: 'pending', delayMs: 5_000 });
    assert.deepEqual(decideAfterAttempt(options(), 3, 'automatic', failure(null)), { status: 'pending', delayMs: 600_000 });
    const last = decideAfterAttempt(options(), 4, 'automatic', failure(500));
    assert.equal(last.status, 'failed');
  });

  it('makes manual, test and blocked attempts final', () => {
    assert.equal(decideAfterAttempt(options(), 4, 'manual', failure(500)).status, 'failed');
    const redelivered = decideAfterAttempt(options(), 4, 'manual', { failure: undefined, statusCode: 200 });
    assert.equal(redelivered.status, 'succeeded');
    assert.equal(decideAfterAttempt(options(), 1, 'test', failure(500)).status, 'failed');
    const blocked = decideAfterAttempt(options(), 1, 'automatic', { failure: 'blocked', statusCode: null });
    assert.deepEqual(blocked, { status: 'failed', reason: 'destination blocked' });
  });

  it('spreads delays within the jitter bounds', () => {
    assert.equal(applyJitter(10_000, 0.2, () => 0), 8_000);
    assert.equal(applyJitter(10_000, 0.2, () => 0.5), 10_000);
    assert.equal(applyJitter(10_000, 0.2, () => 0.999999), 12_000);
    assert.equal(applyJitter(0, 0.2, () => 0.9), 0);
    for (let i = 0; i < 200; i++) {
      const delay = applyJitter(10_000, 0.2, Math.random);
      assert.ok(delay >= 8_000 && delay <= 12_000, `delay ${delay} is outside 8000..12000`);
    }
  });

  it('honours Retry-After on 429 and 503 within the bounds', () => {
    const policy = options();
    assert.deepEqual(decideAfterAttempt(policy, 1, 'automatic', failure(429, '30')), { status: 'pending', delayMs: 30_000 });
    assert.deepEqual(decideAfterAttempt(policy, 1, 'automatic', failure(503, '30')), { status: 'pending', delayMs: 30_000 });
    // Shorter than the scheduled delay: the schedule wins.
    assert.deepEqual(decideAfterAttempt(policy, 2, 'automatic', failure(429, '1')), { status: 'pending', delayMs: 60_000 });
    // Longer than the longest delay: clamped to it.
    assert.deepEqual(decideAfterAttempt(policy, 1, 'automatic', failure(429, '86400')), { status: 'pending', delayMs: 600_000 });
  });

  it('ignores Retry-After on other statuses and when malformed', () => {
    assert.deepEqual(decideAfterAttempt(options(), 1, 'automatic', failure(500, '30')), { status: 'pending', delayMs: 5_000 });
    assert.deepEqual(decideAfterAttempt(options(), 1, 'automatic', failure(429, 'soon')), { status: 'pending', delayMs: 5_000 });
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    assert.equal(parseRetryAfter('120', NOW), 120_000);
    assert.equal(parseRetryAfter(new Date(NOW + 90_000).toUTCString(), NOW), 90_000);
    assert.equal(parseRetryAfter(new Date(NOW - 90_000).toUTCString(), NOW), 0);
    assert.equal(parseRetryAfter('-5', NOW), undefined);
    assert.equal(parseRetryAfter(undefined, NOW), undefined);
  });
});
