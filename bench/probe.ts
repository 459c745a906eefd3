/*
 * `npm run bench:probe`: a short run of the service alone, for profiling and quick before and
 * after comparisons while changing the service. It drains one backlog and runs a few steps
 * of offered load, pinned like the full suite, and prints one line per cell.
 *
 * Flags: --backlog N (default 20000, 0 skips), --rates 1000,2000,4000 (0 skips the steps),
 * --cpu-prof DIR (writes a V8 CPU profile of the service there), --env NAME=VALUE (repeatable,
 * extra service settings), --postgres (the service on a fresh PostgreSQL database),
 * --profile quick|full (the profile whose warm-up and measuring times the steps use; default quick),
 * --main FILE (the service's entry point, such as an older build's dist/main.js; default this
 * checkout's), --isolation none,hang (W3 isolation cells after the steps, with the profile's
 * rate and length), --no-build.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { describe, type Context } from './cells.js';
import { ServiceContender } from './contenders/service.js';
import { createBenchDatabase, dropBenchDatabase } from './postgres.js';
import { buildServer, pinningFor, pinProcess, ROOT } from './processes.js';
import { PROFILES } from './profiles.js';
import { Receivers } from './receivers.js';
import { drain, isolation, ISOLATION_FAULTS, offered } from './workloads.js';

const { values: flags } = parseArgs({
  options: {
    backlog: { type: 'string', default: '20000' },
    rates: { type: 'string', default: '1000,2000,4000' },
    'cpu-prof': { type: 'string' },
    env: { type: 'string', multiple: true, default: [] },
    postgres: { type: 'boolean', default: false },
    profile: { type: 'string', default: 'quick' },
    main: { type: 'string' },
    isolation: { type: 'string', default: '' },
    'no-build': { type: 'boolean', default: false },
  },
});

if (flags.profile !== 'quick' && flags.profile !== 'full') {
  process.stderr.write(`invalid --profile ${JSON.stringify(flags.profile)}: use quick or full\n`);
  process.exit(64);
}
const profile = PROFILES[flags.profile];
const faults = flags.isolation.split(',').filter((fault) => fault !== '');
const unknownFaults = faults.filter((fault) => !(fault in ISOLATION_FAULTS));
if (unknownFaults.length > 0) {
  process.stderr.write(`invalid --isolation fault ${unknownFaults.join(', ')}: use ${Object.keys(ISOLATION_FAULTS).join(', ')}\n`);
  process.exit(64);
}
const started = Date.now();

function progress(line: string): void {
  const elapsed = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stdout.write(`[${elapsed}s] ${line}\n`);
}

function parseEnv(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`--env takes NAME=VALUE, got ${JSON.stringify(pair)}`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

async function main(): Promise<void> {
  if (!flags['no-build']) buildServer();

  const pinning = pinningFor(true);
  if (pinning.driver) await pinProcess(process.pid, pinning.driver);
  const receivers = await Receivers.start(faults.length > 0 ? 20 : 1, pinning.driver);
  const workDir = fs.mkdtempSync(path.join(ROOT, 'bench/results/.probe-'));
  const context: Context = { receivers, workDir, drainTimeoutMs: profile.drainTimeoutMs, graceMs: profile.graceMs, progress };

  const profileDir = flags['cpu-prof'] ? path.resolve(flags['cpu-prof']) : undefined;
  if (profileDir) fs.mkdirSync(profileDir, { recursive: true });
  const databaseUrl = flags.postgres ? createBenchDatabase() : undefined;
  const service = new ServiceContender({
    id: flags.postgres ? 'P' : 'L',
    cpus: pinning.service,
    timeoutMs: profile.timeoutMs,
    env: parseEnv(flags.env),
    ...(flags.main ? { mainScript: path.resolve(flags.main), variant: flags.main } : {}),
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {}),
  });

  try {
    await service.start(receivers.urls);
    const backlog = Number(flags.backlog);
    if (backlog > 0) progress(describe(await drain(context, service, backlog)));
    for (const rate of flags.rates.split(',').map(Number).filter((value) => value > 0)) {
      const cell = await offered(context, service, {
        workload: 'step',
        params: { rate },
        eventRate: rate,
        endpoints: [0],
        warmMs: profile.warmMs,
        measureMs: profile.measureMs,
      });
      progress(`${describe(cell)} delivered ${String(cell.extra.deliveredPerSecond)}/s passed ${String(cell.extra.passed)}`);
    }
    for (const fault of faults) {
      progress(describe(await isolation(context, service, fault, profile.isolationRate, profile.isolationMs)));
    }
  } finally {
    await service.stop();
    service.dispose();
    await receivers.close();
    fs.rmSync(workDir, { recursive: true, force: true });
    if (databaseUrl) dropBenchDatabase(databaseUrl);
  }

  progress(`service log: ${service.logFile}`);
  if (profileDir) progress(`CPU profiles in ${profileDir}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`probe failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
