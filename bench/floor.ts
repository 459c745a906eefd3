/*
 * `npm run bench:floor`: the least CPU an HTTP request and a delivery cost on this machine,
 * next to what the service spends per request and per event. Each process under test runs
 * pinned to CPU 0 like the suite's contenders, and the driver and receivers run on CPU 1.
 *
 * Each cell offers load open-loop for a few rounds and prints the CPU time of the process
 * under test divided by the requests it served. At the end it prints the CPU budget per
 * event that the targets for L / B0 set, next to the cost of a bare request plus B0's send.
 *
 * Flags: --rate N (the bare servers' and B0's rate, default 6400), --service-rate N (the
 * service's, default 1500, below its capacity), --rounds N (default 3), --ceiling N (B0's
 * sustained rate in the suite, default 16000), --no-build, --smoke. The smoke mode runs one
 * short round per cell at low rates. It proves the tool runs, and its figures mean nothing.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { DirectContender } from './contenders/direct.js';
import { ServiceContender } from './contenders/service.js';
import { pace } from './pacer.js';
import { buildServer, cpuMs, freePort, pinningFor, pinProcess, ROOT, sleep, spawnNode, waitForExit } from './processes.js';
import { Receivers } from './receivers.js';

const { values: flags } = parseArgs({
  options: {
    rate: { type: 'string', default: '6400' },
    'service-rate': { type: 'string', default: '1500' },
    rounds: { type: 'string', default: '3' },
    ceiling: { type: 'string', default: '16000' },
    'no-build': { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
  },
});

const smoke = flags.smoke;
const rate = smoke ? 200 : Number(flags.rate);
const serviceRate = smoke ? 100 : Number(flags['service-rate']);
const rounds = smoke ? 1 : Number(flags.rounds);
const ceiling = Number(flags.ceiling);
const ROUND_MS = smoke ? 500 : 3_000;
for (const [name, value] of Object.entries({ rate, 'service-rate': serviceRate, rounds, ceiling })) {
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`--${name} must be a positive integer, e.g. --${name} ${name === 'rounds' ? 3 : 1000}\n`);
    process.exit(64);
  }
}
const TIMEOUT_MS = 5_000;

interface Row {
  readonly cell: string;
  readonly rate: number;
  /** CPU microseconds per request or event, one figure per round. */
  readonly perRound: number[];
}

const rows: Row[] = [];

/** Returns the median, or NaN for no values. */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Keeps a row for the summary and prints it. */
function report(row: Row): void {
  rows.push(row);
  const rounded = row.perRound.map((value) => Math.round(value));
  process.stdout.write(`${row.cell} at ${row.rate}/s: ${rounded.join(', ')} µs per request (median ${Math.round(median(row.perRound))})\n`);
}

/**
 * Runs `round` once to warm the process up and then `rounds` times, and returns the CPU
 * microseconds of `pid` per request in each counted round. `round` returns its request count.
 */
async function cpuPerRequest(pid: number, round: () => Promise<number>): Promise<number[]> {
  const perRound: number[] = [];
  for (let index = 0; index <= rounds; index++) {
    const before = cpuMs(pid);
    const requests = await round();
    if (index > 0) perRound.push(((cpuMs(pid) - before) * 1000) / requests);
  }
  return perRound;
}

/** Offers `send` open-loop at `offeredRate` in each round, and waits for every response before reading the CPU time. */
async function measure(pid: number, offeredRate: number, send: () => Promise<unknown>): Promise<number[]> {
  return cpuPerRequest(pid, async () => {
    const pending: Array<Promise<unknown>> = [];
    const sent = await pace(offeredRate, ROUND_MS, () => {
      pending.push(send());
    });
    const failed = (await Promise.allSettled(pending)).filter((outcome) => outcome.status === 'rejected').length;
    if (failed > 0) throw new Error(`${failed} of ${sent} requests failed; lower --rate`);
    await sleep(100);
    return sent;
  });
}

/** Returns a sender of GET `route` that fails on any status other than 200. */
function getter(pool: Pool, route: string): () => Promise<void> {
  return async () => {
    const response = await pool.request({ method: 'GET', path: route });
    await response.body.dump();
    if (response.statusCode !== 200) throw new Error(`GET ${route} returned status ${response.statusCode}`);
  };
}

async function bareServer(kind: 'http' | 'fastify', cpus: string | undefined): Promise<void> {
  const port = await freePort();
  const child: ChildProcess = spawnNode(path.join(ROOT, 'bench/floor-server.ts'), [kind, String(port)], { cpus });
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 64 });
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const ready = await pool.request({ method: 'GET', path: '/healthz' }).then(
        async (response) => (await response.body.dump(), true),
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`the bare ${kind} server did not respond on port ${port} within 15 s`);
      await sleep(50);
    }
    const send = getter(pool, '/healthz');
    report({ cell: kind === 'http' ? 'bare node:http, GET' : 'bare Fastify, GET', rate, perRound: await measure(child.pid as number, rate, send) });
  } finally {
    child.kill('SIGTERM');
    await waitForExit(child, 5_000);
    await pool.destroy();
  }
}

async function rawSend(receivers: Receivers, cpus: string | undefined): Promise<void> {
  const b0 = new DirectContender({ mode: 'undici', connections: 16, signing: true, timeoutMs: TIMEOUT_MS, cpus });
  await b0.start(receivers.urls);
  try {
    const perRound = await cpuPerRequest(b0.pids()[0] as number, async () => {
      await receivers.clear();
      const offered = await b0.offer(rate, ROUND_MS, [0]);
      if (offered.failures > 0) throw new Error(`B0 failed ${offered.failures} sends; lower --rate`);
      await receivers.waitForSuccesses(offered.events, 10_000);
      return offered.events;
    });
    report({ cell: 'B0 raw undici send, signed', rate, perRound });
  } finally {
    await b0.stop();
  }
}

/** Measures the service: GET /healthz and report actions with SERVICE_ROLE=api, then report actions with their delivery. */
async function service(receivers: Receivers, cpus: string | undefined): Promise<void> {
  const apiOnly = new ServiceContender({ id: 'L', cpus, timeoutMs: TIMEOUT_MS, env: { SERVICE_ROLE: 'api' } });
  await apiOnly.start(receivers.urls);
  const pool = new Pool(apiOnly.url, { connections: 64 });
  try {
    const pid = apiOnly.pids()[0] as number;
    report({ cell: 'service GET /healthz', rate: serviceRate, perRound: await measure(pid, serviceRate, getter(pool, '/healthz')) });
    report({ cell: 'service GET /healthz', rate, perRound: await measure(pid, rate, getter(pool, '/healthz')) });
    report({ cell: 'service report action, API only', rate: serviceRate, perRound: await events(apiOnly, receivers, false) });
  } finally {
    await pool.destroy();
    await apiOnly.stop();
    apiOnly.dispose();
  }

  const withWorker = new ServiceContender({ id: 'L', cpus, timeoutMs: TIMEOUT_MS });
  await withWorker.start(receivers.urls);
  try {
    report({ cell: 'service report action and its delivery', rate: serviceRate, perRound: await events(withWorker, receivers, true) });
  } finally {
    await withWorker.stop();
    withWorker.dispose();
  }
}

/** Offers report actions at the service rate and, with `delivered`, waits for their deliveries. */
async function events(contender: ServiceContender, receivers: Receivers, delivered: boolean): Promise<number[]> {
  return cpuPerRequest(contender.pids()[0] as number, async () => {
    await receivers.clear();
    const offered = await contender.offer(serviceRate, ROUND_MS, [0]);
    if (offered.failures > 0) throw new Error(`${offered.failures} report actions failed; see ${contender.logFile}`);
    if (delivered) await receivers.waitForDistinct(offered.events, 30_000);
    return offered.events;
  });
}

async function main(): Promise<void> {
  if (!flags['no-build']) buildServer();
  const pinning = pinningFor(true);
  if (pinning.driver) await pinProcess(process.pid, pinning.driver);
  const receivers = await Receivers.start(1, pinning.driver);
  try {
    await bareServer('http', pinning.service);
    await bareServer('fastify', pinning.service);
    await rawSend(receivers, pinning.service);
    await service(receivers, pinning.service);
  } finally {
    await receivers.close();
  }

  const medianAt = (cell: string): number => median(rows.find((row) => row.cell === cell && row.rate === rate)?.perRound ?? []);
  const floor = medianAt('bare node:http, GET') + medianAt('B0 raw undici send, signed');
  process.stdout.write(
    `\nA bare request and B0's send together: ${Math.round(floor)} µs of CPU 0 per event at ${rate}/s.\n` +
      `Budget per event for L / B0 against a ${ceiling}/s ceiling: ` +
      `0.4 leaves ${Math.round(1e6 / (0.4 * ceiling))} µs, 0.6 leaves ${Math.round(1e6 / (0.6 * ceiling))} µs.\n`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
