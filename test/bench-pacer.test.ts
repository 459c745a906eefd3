import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { paceWithLimit } from '../bench/pacer.js';

describe('paced sends with a limit', () => {
  it('caps calls in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    let settled = 0;
    const sequences: number[] = [];

    const sent = await paceWithLimit(1_000, 200, 5, async (sequence) => {
      sequences.push(sequence);
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await sleep(20);
      inFlight -= 1;
      settled += 1;
    });

    assert.equal(sent, 200);
    assert.equal(settled, 200);
    assert.equal(peak, 5);
    assert.deepEqual(sequences, Array.from({ length: 200 }, (_, index) => index));
  });

  it('continues after a failed call', async () => {
    const sent = await paceWithLimit(1_000, 20, 2, async (sequence) => {
      if (sequence === 0) throw new Error('send failed');
    });

    assert.equal(sent, 20);
  });
});
