/*
 * `npm run bench`: runs the benchmark suite and writes bench/results/<time>.json.
 * Flags: --full (long profile), --smoke (seconds, proves the harness runs), --unpinned,
 * --out DIR (results folder), --only B0,B1,B2,L,P (contenders), --no-build, --no-report.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { describe, type Cell, type Context } from './cells.js';
import { BullmqContender, inspectRedis, setRedisPersistence } from './contenders/bullmq.js';
import type { Contender } from './contenders/contender.js';
import { DirectContender } from './contenders/direct.js';
import { ServiceContender } from './contenders/service.js';
import { fingerprint } from './fingerprint.js';
import { createBenchDatabase, dropBenchDatabase, postgresSupported } from './postgres.js';
import { CONCURRENT_CALLERS, measureIngest } from './ingest.js';
import { allowedCpus, pinProcess, pinningFor, ROOT, type Pinning } from './processes.js';
import { PROFILES, type Profile } from './profiles.js';
import { Receivers } from './receivers.js';
import { writeReport } from './report.js';
import { summarize } from './summary.js';
import { crash, drain, fanOut, isolation, offered, pickSetting, steps, sustained } from './workloads.js';

const { values: flags } = parseArgs({
  options: {
    full: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    unpinned: { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(ROOT, 'bench/results') },
    only: { type: 'string', default: 'B0,B1,B2,L,P' },
    'no-build': { type: 'boolean', default: false },
    'no-report': { type: 'boolean', default: false },
  },
});

let profileName: Profile['name'] = 'quick';
if (flags.full) profileName = 'full';
if (flags.smoke) profileName = 'smoke';
const profile: Profile = PROFILES[profileName];
const only = new Set(flags.only.split(',').map((id) => id.trim()));
const pinning: Pinning = pinningFor(!flags.unpinned);
const cells: Cell[] = [];
const notes: string[] = [];
const started = Date.now();
let cellNumber = 0;

function progress(line: string): void {
  const elapsed = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stdout.write(`[${elapsed}s] ${line}\n`);
}

function record(cell: Cell): Cell {
  cellNumber += 1;
  cells.push(cell);
  progress(`#${cellNumber} ${describe(cell)}`);
  return cell;
}

/** Runs the workloads every contender shares; returns the contender's sustained rate. */
async function commonSuite(context: Context, contender: Contender, halfRate?: number): Promise<number> {
  for (const backlog of profile.backlogs) {
    if (contender.id === 'B1' && backlog > profile.backlogs[0]!) continue;
    record(await drain(context, contender, backlog));
  }
  const stepCells = await steps(context, contender, profile);
  for (const cell of stepCells) record(cell);
  const rate = sustained(stepCells);
  const half = halfRate ?? Math.max(rate / 2, profile.stepRates[0]! / 2);
  record(await halfLoad(context, contender, half));
  // Fan-out runs at the half-load rate too, so the one-endpoint case is not ingest-bound.
  const fanRate = Math.max(half, profile.fanOutKs[profile.fanOutKs.length - 1]!);
  for (const k of profile.fanOutKs) record(await fanOut(context, contender, k, fanRate, profile.measureMs));
  for (const fault of profile.isolationFaults) {
    record(await isolation(context, contender, fault, profile.isolationRate, profile.isolationMs));
  }
  return rate;
}

async function withContender<T>(context: Context, contender: Contender, body: () => Promise<T>): Promise<T> {
  progress(`starting ${contender.id} [${contender.variant}]`);
  await contender.start(context.receivers.urls);
  try {
    return await body();
  } finally {
    await contender.stop();
    contender.dispose?.();
  }
}

/** B0 swept over connections per origin on a backlog; returns the best count. */
async function sweepUndici(context: Context): Promise<number> {
  let best = { connections: profile.undiciConnections[0]!, rate: 0 };
  for (const connections of profile.undiciConnections) {
    for (const signing of [true, false]) {
      const contender = new DirectContender({ mode: 'undici', connections, signing, timeoutMs: profile.timeoutMs, cpus: pinning.service });
      const cell = await withContender(context, contender, () => drain(context, contender, profile.sweepBacklog));
      record({ ...cell, workload: 'W0 calibration' });
      if (signing && cell.deliveriesPerSecond > best.rate) best = { connections, rate: cell.deliveriesPerSecond };
    }
  }
  const wide = new DirectContender({ mode: 'undici', connections: best.connections, signing: true, timeoutMs: profile.timeoutMs, cpus: pinning.service });
  await withContender(context, wide, async () => {
    record(await fanOut(context, wide, profile.fanOutKs[profile.fanOutKs.length - 1]!, profile.calibrationFanOutRate, profile.measureMs));
  });
  return best.connections;
}

/**
 * Drains B2 at each concurrency twice, the second pass in reverse order, and returns the
 * setting `pickSetting` chooses. One drain per setting picked 10 in one run and 50 in the
 * next, probably because Redis's state drifts during the sweep (retained jobs, a growing
 * AOF file).
 */
async function sweepBullmq(context: Context, redisPid: number | undefined): Promise<number> {
  const settings = profile.bullmqConcurrency;
  const readings = new Map<number, number[]>(settings.map((concurrency) => [concurrency, []]));
  for (const concurrency of [...settings, ...[...settings].reverse()]) {
    const contender = new BullmqContender({ concurrency, timeoutMs: profile.timeoutMs, cpus: pinning.service, redisPid });
    const cell = await withContender(context, contender, () => drain(context, contender, profile.sweepBacklog));
    record({ ...cell, workload: 'W0 calibration' });
    readings.get(concurrency)!.push(cell.deliveriesPerSecond);
  }
  const chosen = pickSetting(readings);
  const listed = [...readings].map(([concurrency, rates]) => `${concurrency}: ${rates.join(', ')}`);
  progress(`B2 concurrency ${chosen} chosen from ${listed.join('; ')} deliveries/s`);
  return chosen;
}

async function serviceSuite(context: Context): Promise<number> {
  const service = new ServiceContender({ id: 'L', cpus: pinning.service, timeoutMs: profile.timeoutMs });
  const rate = await withContender(context, service, () => commonSuite(context, service));
  progress(`service logs: ${service.logFile}`);

  const crashing = new ServiceContender({ id: 'L', cpus: pinning.service, timeoutMs: profile.timeoutMs });
  await withContender(context, crashing, async () => {
    for (let round = 1; round <= profile.crashRounds; round++) {
      record(await crash(context, crashing, profile.crashBacklog, round));
    }
  });

  if (profile.syncFull) {
    const durable = new ServiceContender({
      id: 'L',
      cpus: pinning.service,
      timeoutMs: profile.timeoutMs,
      env: { SQLITE_SYNCHRONOUS: 'FULL' },
      variant: 'synchronous=FULL',
    });
    await withContender(context, durable, async () => {
      record(await drain(context, durable, profile.backlogs[0]!));
      for (const cell of await steps(context, durable, profile)) record(cell);
    });
  }
  return rate;
}

/** P: the service on PostgreSQL, backlog, step test and half load, when the code base supports it. */
async function postgresSuite(context: Context, halfRate: number | undefined): Promise<void> {
  if (!(await postgresSupported())) {
    notes.push('P skipped: this version of the service cannot use PostgreSQL yet.');
    return;
  }
  const databaseUrl = createBenchDatabase();
  const service = new ServiceContender({ id: 'P', databaseUrl, cpus: pinning.service, timeoutMs: profile.timeoutMs });
  try {
    await withContender(context, service, async () => {
      record(await drain(context, service, profile.backlogs[0]!));
      const stepCells = await steps(context, service, profile);
      for (const cell of stepCells) record(cell);
      const half = halfRate ?? Math.max(sustained(stepCells) / 2, profile.stepRates[0]! / 2);
      record(await halfLoad(context, service, half));
    });
  } finally {
    dropBenchDatabase(databaseUrl);
  }
}

function halfLoad(context: Context, contender: Contender, rate: number): Promise<Cell> {
  return offered(context, contender, {
    workload: 'half load',
    params: { rate },
    eventRate: rate,
    endpoints: [0],
    warmMs: profile.warmMs,
    measureMs: profile.measureMs,
  });
}

async function main(): Promise<void> {
  if (!flags['no-build']) {
    progress('building dist/ with npm run build');
    const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (build.status !== 0) throw new Error('npm run build failed; fix the compile errors above and run again');
  }
  if (pinning.driver) await pinProcess(process.pid, pinning.driver);
  const redis = only.has('B2') ? await inspectRedis() : undefined;
  if (only.has('B2') && !redis) notes.push('B2 skipped: no Redis answered on 127.0.0.1:6379.');

  const receivers = await Receivers.start(100, pinning.driver);
  fs.mkdirSync(flags.out, { recursive: true });
  const workDir = fs.mkdtempSync(path.join(path.resolve(flags.out), '.work-'));
  const context: Context = { receivers, workDir, drainTimeoutMs: profile.drainTimeoutMs, graceMs: profile.graceMs, progress };
  const redisPinning = redis?.pid !== undefined ? allowedCpus(redis.pid) : undefined;
  let lSustained = 0;
  try {
    if (only.has('L')) lSustained = await serviceSuite(context);
    const half = lSustained > 0 ? lSustained / 2 : undefined;
    if (only.has('B0')) {
      const connections = await sweepUndici(context);
      const b0 = new DirectContender({ mode: 'undici', connections, signing: true, timeoutMs: profile.timeoutMs, cpus: pinning.service });
      await withContender(context, b0, () => commonSuite(context, b0, half));
    }
    if (only.has('B1')) {
      const b1 = new DirectContender({ mode: 'fetch', connections: 0, signing: true, timeoutMs: profile.timeoutMs, cpus: pinning.service });
      await withContender(context, b1, () => commonSuite(context, b1, half));
    }
    if (only.has('P')) await postgresSuite(context, half);
    if (redis) {
      if (profile.redisAof) await setRedisPersistence('yes', 'everysec');
      if (pinning.service && redis.pid !== undefined) await pinProcess(redis.pid, pinning.service);
      try {
        const concurrency = await sweepBullmq(context, redis.pid);
        const b2 = new BullmqContender({ concurrency, timeoutMs: profile.timeoutMs, cpus: pinning.service, redisPid: redis.pid });
        await withContender(context, b2, () => commonSuite(context, b2, half));
      } finally {
        if (profile.redisAof) await setRedisPersistence(redis.appendonly, redis.appendfsync);
        if (redisPinning && redis.pid !== undefined) await pinProcess(redis.pid, redisPinning);
      }
    }
    const ingest = await measureIngest(profile.ingestMs);
    progress(
      `in-process ingest: ${ingest.single} events/s one per transaction from one caller, ${ingest.concurrent} from ${CONCURRENT_CALLERS} callers, ${ingest.batched} batched by 100`,
    );
    await writeResults({ ingest, redis, redisPinning });
  } finally {
    await receivers.close();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

async function writeResults(extra: Record<string, unknown>): Promise<void> {
  const result = {
    profile: profile.name,
    startedAt: new Date(started).toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    pinning: { ...pinning, unpinned: flags.unpinned },
    fingerprint: await fingerprint(),
    profileSettings: profile,
    notes,
    ...extra,
    cells,
  };
  const withSummary = { ...result, summary: summarize(result) };
  fs.mkdirSync(flags.out, { recursive: true });
  const file = path.join(flags.out, `${result.startedAt.replace(/[:.]/g, '-')}-${profile.name}.json`);
  fs.writeFileSync(file, `${JSON.stringify(withSummary, null, 2)}\n`);
  progress(`results written to ${file}`);
  const voided = cells.filter((cell) => cell.void && (cell.contender === 'L' || cell.contender === 'B2'));
  if (voided.length > 0) progress(`VOID: ${voided.length} cells of durable contenders lost events`);
  if (!flags['no-report'] && profile.name !== 'smoke') writeReport(file);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`benchmark failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
