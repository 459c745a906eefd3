import type { Arrival } from './receivers.js';

/** For each expected (event, endpoint) pair: delivered, duplicated, or missing at the cut-off. */
export interface LedgerCounts {
  readonly expected: number;
  readonly delivered: number;
  /** 2xx arrivals beyond the first for the same pair. */
  readonly duplicates: number;
  /** Expected pairs with no 2xx arrival at the cut-off. */
  readonly missing: number;
  /** 2xx arrivals for pairs outside the expected set: a harness or contender defect. */
  readonly unexpected: number;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export const key = (endpoint: number, eventId: string): string => `${endpoint}|${eventId}`;

export function isSuccess(arrival: Arrival): boolean {
  return arrival.status >= 200 && arrival.status < 300;
}

/** Returns the first 2xx arrival of each (endpoint, event) pair, in arrival order. */
export function firstSuccesses(arrivals: readonly Arrival[]): Arrival[] {
  const seen = new Set<string>();
  const firsts: Arrival[] = [];
  for (const arrival of arrivals) {
    if (!isSuccess(arrival)) continue;
    const id = key(arrival.endpoint, arrival.eventId);
    if (seen.has(id)) continue;
    seen.add(id);
    firsts.push(arrival);
  }
  return firsts.sort((a, b) => a.arrivedAt - b.arrivedAt);
}

export function countLedger(expected: ReadonlySet<string>, arrivals: readonly Arrival[]): LedgerCounts {
  const hits = new Map<string, number>();
  let unexpected = 0;
  for (const arrival of arrivals) {
    if (!isSuccess(arrival)) continue;
    const id = key(arrival.endpoint, arrival.eventId);
    if (!expected.has(id)) {
      unexpected += 1;
      continue;
    }
    hits.set(id, (hits.get(id) ?? 0) + 1);
  }
  let duplicates = 0;
  for (const count of hits.values()) duplicates += count - 1;
  return {
    expected: expected.size,
    delivered: hits.size,
    duplicates,
    missing: expected.size - hits.size,
    unexpected,
  };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

/** Event-to-delivery latency in milliseconds: arrival at the receiver minus the payload's timestamp. */
export function latency(arrivals: readonly Arrival[]): LatencySummary {
  const values = arrivals
    .map((arrival) => arrival.arrivedAt - arrival.createdAt)
    .filter((value) => Number.isFinite(value))
    .sort((a, b) => a - b);
  const round = (value: number): number => Math.round(value * 10) / 10;
  return {
    count: values.length,
    p50: round(percentile(values, 50)),
    p90: round(percentile(values, 90)),
    p99: round(percentile(values, 99)),
    max: round(values[values.length - 1] ?? Number.NaN),
  };
}

/** Deliveries per second between the first and the last arrival, or over a given span. */
export function rate(arrivals: readonly Arrival[], fromMs?: number, toMs?: number): number {
  if (arrivals.length === 0) return 0;
  const from = fromMs ?? (arrivals[0] as Arrival).arrivedAt;
  const to = toMs ?? (arrivals[arrivals.length - 1] as Arrival).arrivedAt;
  const inside = arrivals.filter((arrival) => arrival.arrivedAt >= from && arrival.arrivedAt <= to).length;
  const seconds = Math.max(to - from, 1) / 1000;
  return Math.round(inside / seconds);
}
