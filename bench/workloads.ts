import { contenderCpu, makeCell, settle, type Cell, type Context } from './cells.js';
import type { Contender } from './contenders/contender.js';
import type { ServiceContender } from './contenders/service.js';
import { countLedger, firstSuccesses, key, latency, rate } from './ledger.js';
import { cpuMs, sleep } from './processes.js';
import type { Arrival, Fault } from './receivers.js';

const range = (count: number): number[] => [...Array(count).keys()];

/**
 * Readies the receivers for a cell: closes the connections the previous cell left idle and
 * clears the arrivals. Returns the count still open, such as requests waiting at a hung
 * endpoint, which the cell records.
 */
async function startCell(context: Context): Promise<number> {
  const open = await context.receivers.closeIdle();
  await context.receivers.clear();
  return open;
}

/**
 * W1: preload a backlog, then measure the drain rate and the peak memory. CPU per delivery
 * counts from the end of release(), so it leaves out starting a process: the service is
 * stopped to preload and started at release, while the BullMQ worker process is already
 * running. The figure with the start included is kept as `cpuMsPerDeliveryWithStart`.
 */
export async function drain(context: Context, contender: Contender, count: number): Promise<Cell> {
  const openAtStart = await startCell(context);
  const expected = await contender.preload(count, [0]);
  const cpuBefore = contenderCpu(contender);
  const receiverBefore = cpuMs(context.receivers.pid);
  const releasedAt = Date.now();
  await contender.release();
  const cpuAtRelease = contenderCpu(contender);
  const releaseEndedAt = Date.now();
  const timeout = Math.max(context.drainTimeoutMs, count * 5);
  const measured = await settle(context, contender, expected, cpuBefore, receiverBefore, timeout);
  const cpuAfterRelease = contenderCpu(contender);
  const loopDelay = await contender.eventLoopDelayP99?.();
  const first = measured.firsts[0]?.arrivedAt ?? releasedAt;
  const withStart = measured.ledger.delivered === 0 ? Number.NaN : measured.cpuMs / measured.ledger.delivered;
  return makeCell(contender, 'W1 backlog', { backlog: count }, measured, {
    deliveriesPerSecond: rate(measured.firsts),
    cpu: {
      ms: cpuAfterRelease - cpuAtRelease,
      deliveries: measured.firsts.filter((arrival) => arrival.arrivedAt >= releaseEndedAt).length,
    },
    extra: {
      releaseToFirstMs: Math.round(first - releasedAt),
      eventLoopDelayP99Ms: loopDelay ?? null,
      cpuMsPerDeliveryWithStart: Math.round(withStart * 1000) / 1000,
      socketsOpenAtStart: openAtStart,
    },
  });
}

export interface OfferSpec {
  readonly workload: string;
  readonly params: Cell['params'];
  /** Events per second; each goes to every endpoint listed. */
  readonly eventRate: number;
  readonly endpoints: readonly number[];
  readonly warmMs: number;
  readonly measureMs: number;
  /** Endpoints left out of the ledger and the figures, e.g. the one with a fault. */
  readonly excluded?: ReadonlySet<number>;
}

/** Offers load open-loop and measures the window after the warm-up. */
export async function offered(context: Context, contender: Contender, spec: OfferSpec): Promise<Cell> {
  // Setup stays out of the window and the CPU count: deleting the service's 80 unused
  // webhooks before an isolation cell took about two seconds.
  await contender.prepare?.(spec.eventRate, spec.endpoints);
  const openAtStart = await startCell(context);
  const cpuBefore = contenderCpu(contender);
  const receiverBefore = cpuMs(context.receivers.pid);
  await contender.eventLoopDelayP99?.();
  const startedAt = Date.now();
  const result = await contender.offer(spec.eventRate, spec.warmMs + spec.measureMs, spec.endpoints, spec.excluded);
  const from = startedAt + spec.warmMs;
  const to = from + spec.measureMs;

  const excluded = spec.excluded ?? new Set<number>();
  const expected = new Set([...result.expected].filter((entry) => !excluded.has(Number(entry.split('|')[0]))));
  const measured = await settle(context, contender, expected, cpuBefore, receiverBefore);
  const loopDelay = await contender.eventLoopDelayP99?.();
  const kept = (arrival: Arrival): boolean => !excluded.has(arrival.endpoint);
  const firsts = measured.firsts.filter(kept);
  const windowed = firsts.filter((arrival) => arrival.createdAt >= from && arrival.createdAt <= to);
  const ledger = countLedger(expected, measured.arrivals.filter(kept));

  const offeredPerSecond = spec.eventRate * (spec.endpoints.length - excluded.size);
  const throughput = rate(firsts, from, to);
  // Deliveries of the events created in the window, per second of the window.
  const delivered = Math.round(windowed.length / (spec.measureMs / 1000));
  const lateAtEnd = expected.size - firsts.filter((arrival) => arrival.arrivedAt <= to).length;
  const lat = latency(windowed);
  const passed =
    delivered >= 0.99 * offeredPerSecond && lateAtEnd < offeredPerSecond && lat.p99 < 1_000 && ledger.missing === 0;
  return makeCell(contender, spec.workload, spec.params, { ...measured, firsts, ledger }, {
    deliveriesPerSecond: throughput,
    latencyMs: lat,
    extra: {
      offeredPerSecond,
      deliveredPerSecond: delivered,
      passed,
      backlogAtEnd: lateAtEnd,
      contenderFailures: result.failures,
      eventLoopDelayP99Ms: loopDelay ?? null,
      socketsOpenAtStart: openAtStart,
      ...(spec.endpoints.length > 1 ? { allCopiesMs: allCopies(windowed, spec.endpoints.length - excluded.size) } : {}),
    },
  });
}

/** Time from an event's creation until the last of its copies landed, over events with every copy. */
function allCopies(arrivals: readonly Arrival[], copies: number) {
  const byEvent = new Map<string, Arrival[]>();
  for (const arrival of arrivals) {
    const list = byEvent.get(arrival.eventId) ?? [];
    list.push(arrival);
    byEvent.set(arrival.eventId, list);
  }
  const complete = [...byEvent.values()].filter((list) => list.length === copies);
  const lasts = complete.map((list) => list.reduce((latest, arrival) => (arrival.arrivedAt > latest.arrivedAt ? arrival : latest)));
  const summary = latency(lasts);
  return { events: complete.length, p50: summary.p50, p99: summary.p99 };
}

export interface StepOptions {
  readonly stepRates: readonly number[];
  /** Number of steps after the ladder, each halving the gap between the last pass and the first fail. */
  readonly stepRefinements: number;
  readonly warmMs: number;
  readonly measureMs: number;
}

/**
 * Runs the step test: rising offered rates to one endpoint until a step fails, then up to
 * `stepRefinements` steps between the highest pass and the lowest fail. Returns every step
 * run. B0 and B1 restart after each failed step.
 *
 * A ladder that doubles can report half of what a contender sustains, so without the extra
 * steps a ratio of two contenders reads 0.5 or 1.0 when it is 0.8.
 */
export async function steps(context: Context, contender: Contender, options: StepOptions): Promise<Cell[]> {
  const cells: Cell[] = [];
  await searchSteps(options.stepRates, options.stepRefinements, async (offeredRate) => {
    const cell = await offered(context, contender, {
      workload: 'step',
      params: { rate: offeredRate },
      eventRate: offeredRate,
      endpoints: [0],
      warmMs: options.warmMs,
      measureMs: options.measureMs,
    });
    context.progress(`${describeStep(cell)}`);
    cells.push(cell);
    if (cell.extra.passed === true) return true;
    // B0 and B1 keep an overload's pending requests, sockets and heap in their process,
    // which would count against their next cells. A durable contender's backlog was
    // delivered when the cell settled, and a restart would only make its process cold.
    if (contender.durable) return false;
    context.progress(`restarting ${contender.id} after the failed step`);
    await contender.stop();
    await contender.start(context.receivers.urls);
    return false;
  });
  return cells;
}

/**
 * Runs `step` on each rate of `ladder` until one fails, then `refinements` times on the
 * midpoint between the highest pass and the lowest fail. Returns the highest passing rate,
 * 0 when none passed.
 */
export async function searchSteps(
  ladder: readonly number[],
  refinements: number,
  step: (rate: number) => Promise<boolean>,
): Promise<number> {
  let passed = 0;
  let failed: number | undefined;
  for (const rate of ladder) {
    if (!(await step(rate))) {
      failed = rate;
      break;
    }
    passed = rate;
  }
  for (let left = refinements; left > 0 && failed !== undefined && passed > 0; left--) {
    const between = midpoint(passed, failed);
    if (between === undefined) break;
    if (await step(between)) passed = between;
    else failed = between;
  }
  return passed;
}

/**
 * Returns a round rate halfway between a passing and a failing step, rounded to two
 * significant digits (3,000 between 2,000 and 4,000, 3,300 between 3,000 and 3,500), or
 * undefined when no such rate lies strictly between them.
 */
export function midpoint(passed: number, failed: number): number | undefined {
  const half = (passed + failed) / 2;
  const unit = 10 ** Math.max(0, Math.floor(Math.log10(half)) - 1);
  const rounded = Math.round(half / unit) * unit;
  return rounded > passed && rounded < failed ? rounded : undefined;
}

function describeStep(cell: Cell): string {
  const verdict = cell.extra.passed ? 'pass' : 'fail';
  return `step ${cell.params.rate}/s -> ${cell.deliveriesPerSecond}/s p99 ${cell.latencyMs.p99} ms backlog ${cell.extra.backlogAtEnd}: ${verdict}`;
}

/** Returns the highest passing step's rate, or 0 when none passed. */
export function sustained(cells: readonly Cell[]): number {
  return Math.max(0, ...cells.filter((cell) => cell.extra.passed).map((cell) => Number(cell.params.rate)));
}

/**
 * Returns the largest setting whose mean drain rate is within `tolerance` of the best mean.
 * Near ties go to the larger setting because the isolation workload needs its headroom: a
 * hanging endpoint's jobs fill all of a 10-slot worker even when it drains as fast as 50.
 */
export function pickSetting(readings: ReadonlyMap<number, readonly number[]>, tolerance = 0.1): number {
  const means = [...readings].map(([setting, rates]) => ({
    setting,
    mean: rates.reduce((sum, rate) => sum + rate, 0) / Math.max(1, rates.length),
  }));
  if (means.length === 0) throw new Error('missing readings: pass at least one setting with its drain rates');
  const best = Math.max(...means.map((entry) => entry.mean));
  return Math.max(...means.filter((entry) => entry.mean >= best * (1 - tolerance)).map((entry) => entry.setting));
}

/** W2: one event to K endpoints, event rate scaled so deliveries per second stay constant. */
export function fanOut(context: Context, contender: Contender, k: number, deliveries: number, ms: number): Promise<Cell> {
  return offered(context, contender, {
    workload: 'W2 fan-out',
    params: { k, offered: deliveries },
    eventRate: deliveries / k,
    endpoints: range(k),
    warmMs: Math.round(ms / 4),
    measureMs: ms,
  });
}

export const ISOLATION_FAULTS: Readonly<Record<string, Fault>> = {
  none: { kind: 'none' },
  slow: { kind: 'delay', delayMs: 2_000 },
  hang: { kind: 'hang' },
  error: { kind: 'error', rate: 1 },
  reset: { kind: 'reset' },
};

/** W3: 20 endpoints, endpoint 0 faulty; the figures cover the 19 healthy ones. */
export async function isolation(
  context: Context,
  contender: Contender,
  fault: string,
  deliveries: number,
  ms: number,
): Promise<Cell> {
  await context.receivers.setFault([0], ISOLATION_FAULTS[fault] as Fault);
  try {
    return await offered(context, contender, {
      workload: 'W3 isolation',
      params: { fault, offered: deliveries },
      eventRate: deliveries / 20,
      endpoints: range(20),
      warmMs: Math.round(ms / 4),
      measureMs: ms,
      excluded: new Set([0]),
    });
  } finally {
    await context.receivers.healAll();
  }
}

/** W4: SIGKILL during a backlog drain at a random point between 20% and 80%, restart after 1 s. */
export async function crash(context: Context, service: ServiceContender, backlog: number, round: number): Promise<Cell> {
  const openAtStart = await startCell(context);
  const expected = await service.preload(backlog, [0]);
  const cpuBefore = contenderCpu(service);
  const receiverBefore = cpuMs(context.receivers.pid);
  const killAt = Math.round(backlog * (0.2 + Math.random() * 0.6));
  const releasedAt = Date.now();
  await service.release();
  await context.receivers.waitForSuccesses(killAt, context.drainTimeoutMs, 5);
  const killedAt = Date.now();
  await service.crash();
  await sleep(1_000);
  const restartedAt = await service.launch();
  const timeout = Math.max(context.drainTimeoutMs, backlog * 5);
  const measured = await settle(context, service, expected, cpuBefore, receiverBefore, timeout);

  const before = measured.firsts.filter((arrival) => arrival.arrivedAt <= killedAt);
  const after = measured.firsts.filter((arrival) => arrival.arrivedAt >= restartedAt);
  const firstAfter = after[0]?.arrivedAt;
  return makeCell(service, 'W4 crash', { backlog, round }, measured, {
    deliveriesPerSecond: rate(after),
    extra: {
      killedAfter: before.length,
      restartToFirstMs: firstAfter === undefined ? null : Math.round(firstAfter - restartedAt),
      rateBeforeCrash: rate(before, releasedAt),
      rateAfterRestart: rate(after),
      lost: measured.ledger.missing,
      duplicates: measured.ledger.duplicates,
      socketsOpenAtStart: openAtStart,
    },
  });
}

export { key, firstSuccesses };
