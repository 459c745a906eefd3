import type { Contender } from './contenders/contender.js';
import {
  countLedger,
  firstSuccesses,
  latency,
  rate,
  type LatencySummary,
  type LedgerCounts,
} from './ledger.js';
import { cpuMs, peakRssMiB, sleep } from './processes.js';
import type { Arrival, Receivers } from './receivers.js';

/** How often the grace period collects arrivals to re-check the ledger. */
const GRACE_POLL_MS = 250;

/** One measured cell: a contender under one workload with one set of parameters. */
export interface Cell {
  readonly contender: string;
  readonly variant: string;
  readonly workload: string;
  readonly params: Record<string, number | string>;
  readonly deliveriesPerSecond: number;
  readonly latencyMs: LatencySummary;
  readonly cpuMsPerDelivery: number;
  readonly peakRssMiB: number;
  readonly ledger: LedgerCounts;
  /** True when the ledger shows a lost event: the cell's figures do not count. */
  readonly void: boolean;
  readonly extra: Record<string, unknown>;
}

export interface Context {
  readonly receivers: Receivers;
  readonly workDir: string;
  /** Upper bound for waiting on stragglers after the offered load ends. */
  readonly drainTimeoutMs: number;
  /** Extra wait for a durable contender's stragglers before they count as lost. */
  readonly graceMs: number;
  readonly progress: (line: string) => void;
}

export interface Measurement {
  readonly arrivals: Arrival[];
  readonly firsts: Arrival[];
  readonly ledger: LedgerCounts;
  /** Expected pairs not yet delivered when the cell's wait ended, before any grace period. */
  readonly pendingAtCutoff: number;
  readonly cpuMs: number;
  readonly receiverCpuMs: number;
  readonly peakSockets: number[];
}

/** CPU time of the contender's processes, read before and after a cell. */
export function contenderCpu(contender: Contender): number {
  return contender.pids().reduce((sum, pid) => sum + cpuMs(pid), 0);
}

export function contenderRss(contender: Contender): number {
  return contender.pids().reduce((max, pid) => Math.max(max, peakRssMiB(pid)), 0);
}

/**
 * Waits until every expected pair arrived or the timeout, then collects the ledger. Pairs
 * still missing then are pending at the cut-off; a durable contender (one that retries)
 * gets a grace period to deliver them before they count as lost.
 */
export async function settle(
  context: Context,
  contender: Contender,
  expected: Set<string>,
  cpuBefore: number,
  receiverCpuBefore: number,
  timeoutMs = context.drainTimeoutMs,
): Promise<Measurement> {
  await context.receivers.waitForDistinct(expected.size, timeoutMs);
  const cpu = contenderCpu(contender) - cpuBefore;
  const collected = await context.receivers.collect(context.workDir);
  let arrivals = collected.arrivals;
  let ledger = countLedger(expected, arrivals);
  const pendingAtCutoff = ledger.missing;

  // Collecting clears the receivers, so the grace period re-checks the ledger itself.
  const graceEnds = Date.now() + context.graceMs;
  while (contender.durable && ledger.missing > 0 && Date.now() < graceEnds) {
    await sleep(GRACE_POLL_MS);
    arrivals = arrivals.concat((await context.receivers.collect(context.workDir)).arrivals);
    ledger = countLedger(expected, arrivals);
  }
  return {
    arrivals,
    firsts: firstSuccesses(arrivals),
    ledger,
    pendingAtCutoff,
    cpuMs: cpu,
    receiverCpuMs: collected.cpuMs - receiverCpuBefore,
    peakSockets: collected.peakSockets,
  };
}

export function makeCell(
  contender: Contender,
  workload: string,
  params: Cell['params'],
  measured: Measurement,
  figures: {
    deliveriesPerSecond: number;
    latencyMs?: LatencySummary;
    extra?: Record<string, unknown>;
    /** CPU time and deliveries to divide, when not the whole cell's. */
    cpu?: { ms: number; deliveries: number };
  },
): Cell {
  // Not a number (null in the JSON file) when nothing was delivered.
  const delivered = measured.ledger.delivered === 0 ? Number.NaN : measured.ledger.delivered;
  const cpu = figures.cpu ?? { ms: measured.cpuMs, deliveries: delivered };
  return {
    contender: contender.id,
    variant: contender.variant,
    workload,
    params,
    deliveriesPerSecond: figures.deliveriesPerSecond,
    latencyMs: figures.latencyMs ?? latency(measured.firsts),
    cpuMsPerDelivery: Math.round((cpu.ms / (cpu.deliveries || Number.NaN)) * 1000) / 1000,
    peakRssMiB: contenderRss(contender),
    ledger: measured.ledger,
    void: measured.ledger.missing > 0,
    extra: {
      receiverCpuMsPerDelivery: Math.round((measured.receiverCpuMs / delivered) * 1000) / 1000,
      peakSocketsPerPort: Math.max(0, ...measured.peakSockets),
      pendingAtCutoff: measured.pendingAtCutoff,
      ...figures.extra,
    },
  };
}

/** Formats a cell as one line for the progress output. */
export function describe(cell: Cell): string {
  const params = Object.entries(cell.params)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  const lat = cell.latencyMs;
  const ledger = cell.ledger;
  const status = cell.void ? ` VOID (missing ${ledger.missing})` : '';
  return (
    `${cell.contender} [${cell.variant}] ${cell.workload} ${params}: ${cell.deliveriesPerSecond}/s, ` +
    `p50 ${lat.p50} ms, p99 ${lat.p99} ms, ${cell.cpuMsPerDelivery} ms CPU/delivery, ` +
    `rss ${cell.peakRssMiB} MiB, dup ${ledger.duplicates}${status}`
  );
}

export { rate };
