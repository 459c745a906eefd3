import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Context } from '../bench/cells.js';
import { DirectContender } from '../bench/contenders/direct.js';
import { Receivers } from '../bench/receivers.js';
import { isolation, midpoint, pickSetting, searchSteps, steps, sustained } from '../bench/workloads.js';
import { tempDir } from './helpers/service.js';

/** Returns a fake contender's step, which passes up to `capacity` events/s, and the rates it ran. */
function contenderWithCapacity(capacity: number): { tried: number[]; step: (rate: number) => Promise<boolean> } {
  const tried: number[] = [];
  return {
    tried,
    step: async (rate) => {
      tried.push(rate);
      return rate <= capacity;
    },
  };
}

const LADDER = [500, 1_000, 2_000, 4_000, 8_000];

describe('step search', () => {
  it('halves the gap after a failure', async () => {
    const contender = contenderWithCapacity(3_600);
    const sustained = await searchSteps(LADDER, 2, contender.step);
    assert.deepEqual(contender.tried, [500, 1_000, 2_000, 4_000, 3_000, 3_500]);
    assert.equal(sustained, 3_500);
  });

  it('lowers the bound on a failed midpoint', async () => {
    const contender = contenderWithCapacity(2_400);
    const sustained = await searchSteps(LADDER, 2, contender.step);
    assert.deepEqual(contender.tried, [500, 1_000, 2_000, 4_000, 3_000, 2_500]);
    assert.equal(sustained, 2_000);
  });

  it('skips refining at the ladder ends', async () => {
    const strong = contenderWithCapacity(100_000);
    assert.equal(await searchSteps(LADDER, 2, strong.step), 8_000);
    assert.deepEqual(strong.tried, LADDER);

    const weak = contenderWithCapacity(100);
    assert.equal(await searchSteps(LADDER, 2, weak.step), 0);
    assert.deepEqual(weak.tried, [500]);
  });

  it('rounds midpoints between the bounds', () => {
    assert.equal(midpoint(2_000, 4_000), 3_000);
    assert.equal(midpoint(3_000, 3_500), 3_300);
    assert.equal(midpoint(16_000, 32_000), 24_000);
    assert.equal(midpoint(250, 500), 380);
    assert.equal(midpoint(100, 110), undefined);
  });
});

describe('pickSetting', () => {
  it('prefers larger near-tie settings', () => {
    // A high first reading for 10 does not outweigh its lower repeat.
    const readings = new Map([
      [10, [4_032, 2_400]],
      [50, [2_545, 3_300]],
      [200, [2_963, 2_700]],
    ]);
    assert.equal(pickSetting(readings), 50);
    readings.set(200, [2_963, 3_000]);
    assert.equal(pickSetting(readings), 200);
  });

  it('keeps a clear smallest winner', () => {
    const readings = new Map([
      [10, [5_000, 5_200]],
      [50, [4_000, 4_100]],
    ]);
    assert.equal(pickSetting(readings), 10);
  });

  it('rejects empty readings', () => {
    assert.throws(() => pickSetting(new Map()), /missing readings/);
  });
});

describe('step test on a real contender', () => {
  let receivers: Receivers;
  const progress: string[] = [];

  before(async () => {
    receivers = await Receivers.start(1, undefined);
    // One connection to an endpoint that responds after 10 ms caps the raw undici loop below
    // 100 deliveries/s, so 20/s passes and every later step fails. A failed step ends when
    // the loop has sent its whole queue, so the rates stay low to keep the test short.
    await receivers.setFault([0], { kind: 'delay', delayMs: 10 });
  });

  after(async () => {
    await receivers.close();
  });

  it('refines and restarts after failures', async () => {
    const context: Context = {
      receivers,
      workDir: tempDir('webhook-bench-steps-'),
      drainTimeoutMs: 1_500,
      graceMs: 0,
      progress: (line) => progress.push(line),
    };
    const contender = new DirectContender({ mode: 'undici', connections: 1, signing: true, timeoutMs: 5_000, cpus: undefined });
    await contender.start(receivers.urls);
    const firstPid = contender.pids()[0];
    try {
      const cells = await steps(context, contender, { stepRates: [20, 600], stepRefinements: 1, warmMs: 100, measureMs: 400 });
      assert.deepEqual(
        cells.map((cell) => [cell.params.rate, cell.extra.passed]),
        [
          [20, true],
          [600, false],
          [310, false],
        ],
      );
      assert.equal(sustained(cells), 20);
      assert.equal(progress.filter((line) => line === 'restarting B0 after the failed step').length, 2);
      const lastPid = contender.pids()[0];
      assert.notEqual(lastPid, firstPid);
      assert.throws(() => process.kill(firstPid as number, 0), { code: 'ESRCH' });
    } finally {
      await contender.stop();
    }
  });
});

describe('isolation on a real contender', () => {
  let receivers: Receivers;

  before(async () => {
    receivers = await Receivers.start(20, undefined);
  });

  after(async () => {
    await receivers.close();
  });

  // With one connection and a 60 s timeout, waiting for the hanging endpoint's queue would
  // take minutes, so the test's own timeout catches an offer that waits for it.
  it('ends without the hanging endpoint', { timeout: 30_000 }, async () => {
    const context: Context = {
      receivers,
      workDir: tempDir('webhook-bench-isolation-'),
      drainTimeoutMs: 5_000,
      graceMs: 0,
      progress: () => undefined,
    };
    const contender = new DirectContender({ mode: 'undici', connections: 1, signing: true, timeoutMs: 60_000, cpus: undefined });
    await contender.start(receivers.urls);
    try {
      const cell = await isolation(context, contender, 'hang', 200, 1_000);
      assert.equal(cell.void, false);
      assert.equal(cell.ledger.missing, 0);
      assert.ok(cell.ledger.expected > 0, `expected ${cell.ledger.expected} deliveries`);
    } finally {
      await contender.stop();
    }
  });
});
