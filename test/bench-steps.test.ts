import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { midpoint, searchSteps } from '../bench/workloads.js';

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
