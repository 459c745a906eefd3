/*
 * Before-and-after measurement of a service change. `tsx bench/compare.ts OLD_MAIN_JS`
 * runs the same cells on an older build (for example one compiled from `git archive` of
 * main) and on this checkout's dist/main.js. It alternates the builds over several rounds,
 * so load from other processes falls on both alike, and prints one line per cell.
 * Usage: `tsx bench/compare.ts OLD_MAIN_JS [ROUNDS] [RATES]`. RATES is a comma-separated list
 * of events per second offered through the API after the drain, 300 when missing.
 */
import os from 'node:os';
import path from 'node:path';
import { describe, type Context } from './cells.js';
import { ServiceContender } from './contenders/service.js';
import { pinningFor, pinProcess, ROOT } from './processes.js';
import { Receivers } from './receivers.js';
import { drain, offered } from './workloads.js';

const before = process.argv[2];
const rounds = Number(process.argv[3] ?? 2);
const rates = (process.argv[4] ?? '300').split(',').map(Number);
if (!before) {
  process.stderr.write('usage: tsx bench/compare.ts OLD_MAIN_JS [ROUNDS] [RATES]\n');
  process.exit(64);
}

const pinning = pinningFor(true);
if (pinning.driver) await pinProcess(process.pid, pinning.driver);
const receivers = await Receivers.start(1, pinning.driver);
const context: Context = { receivers, workDir: os.tmpdir(), drainTimeoutMs: 60_000, graceMs: 60_000, progress: console.log };
const builds = { before: path.resolve(before), after: path.join(ROOT, 'dist/main.js') };

for (let round = 1; round <= rounds; round++) {
  for (const [name, mainScript] of Object.entries(builds)) {
    const service = new ServiceContender({ id: 'L', cpus: pinning.service, timeoutMs: 5_000, mainScript, variant: name });
    await service.start(receivers.urls);
    try {
      console.log(`round ${round} ${describe(await drain(context, service, 10_000))}`);
      for (const rate of rates) {
        const cell = await offered(context, service, {
          workload: 'offered',
          params: { rate },
          eventRate: rate,
          endpoints: [0],
          warmMs: 1_000,
          measureMs: 4_000,
        });
        console.log(`round ${round} ${describe(cell)} delivered ${String(cell.extra.deliveredPerSecond)}/s`);
      }
    } finally {
      await service.stop();
      service.dispose();
    }
  }
}
await receivers.close();
process.exit(0);
