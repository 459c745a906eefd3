import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Cell } from '../bench/cells.js';
import { cpuPerDelivery } from '../bench/summary.js';

function drainCell(contender: string, backlog: number, cpuMsPerDelivery: number): Cell {
  return { contender, variant: 'as shipped', workload: 'W1 backlog', params: { backlog }, cpuMsPerDelivery } as unknown as Cell;
}

describe('CPU target', () => {
  it('compares the largest shared drain', () => {
    const service = [drainCell('L', 10_000, 0.3), drainCell('L', 100_000, 0.15), drainCell('L', 1_000_000, 0.12)];
    const bullmq = [drainCell('B2', 10_000, 0.2), drainCell('B2', 100_000, 0.16)];
    const cpu = cpuPerDelivery(service, bullmq);
    assert.equal(cpu.ratio, 0.94);
    assert.equal(cpu.detail, 'drain of 100000: L 0.15 ms, B2 0.16 ms; 10000: L 0.3 ms, B2 0.2 ms');
  });

  it('has no ratio without a shared drain', () => {
    const cpu = cpuPerDelivery([drainCell('L', 200, 0.5)], []);
    assert.equal(cpu.ratio, null);
    assert.equal(cpu.detail, 'no backlog drained by both');
  });
});
