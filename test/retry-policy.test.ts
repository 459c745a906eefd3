import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideAfterAttempt } from '../src/delivery/retry-policy.js';

const SCHEDULE = [0, 5_000, 300_000];

describe('retry policy', () => {
  it('succeeds without a failure', () => {
    assert.deepEqual(decideAfterAttempt(SCHEDULE, 1, 'automatic', undefined), { status: 'succeeded' });
  });

  it('waits the next delay of the schedule', () => {
    assert.deepEqual(decideAfterAttempt(SCHEDULE, 1, 'automatic', 'http_status'), { status: 'pending', delayMs: 5_000 });
    assert.deepEqual(decideAfterAttempt(SCHEDULE, 2, 'automatic', 'timeout'), { status: 'pending', delayMs: 300_000 });
  });

  it('fails once the schedule is used up', () => {
    const decision = decideAfterAttempt(SCHEDULE, 3, 'automatic', 'connection_refused');
    assert.equal(decision.status, 'failed');
  });

  it('never retries a blocked destination', () => {
    assert.equal(decideAfterAttempt(SCHEDULE, 1, 'automatic', 'blocked').status, 'failed');
  });

  it('gives a manual redelivery one attempt', () => {
    assert.equal(decideAfterAttempt(SCHEDULE, 4, 'manual', 'http_status').status, 'failed');
    assert.equal(decideAfterAttempt(SCHEDULE, 4, 'manual', undefined).status, 'succeeded');
  });
});
