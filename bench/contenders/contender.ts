import { key } from '../ledger.js';

export type ContenderId = 'B0' | 'B1' | 'B2' | 'L' | 'P';

export interface OfferResult {
  /** Every (endpoint, event) pair the contender accepted, as ledger keys. */
  readonly expected: Set<string>;
  readonly events: number;
  /** Requests the contender itself saw fail: errors, timeouts, non-2xx answers. */
  readonly failures: number;
}

/** A system that delivers events to the receivers' endpoints. */
export interface Contender {
  readonly id: ContenderId;
  /** The configuration, e.g. "connections=16" or "concurrency=50". */
  readonly variant: string;
  /** True when the contender keeps and retries what it accepted (B2, L, P). */
  readonly durable: boolean;
  start(urls: readonly string[]): Promise<void>;
  /** Creates `count` events for the endpoints without sending them yet. */
  preload(count: number, endpoints: readonly number[]): Promise<Set<string>>;
  /** Starts sending what preload created; delivery is observed at the receivers. */
  release(): Promise<void>;
  /**
   * Creates events open-loop at `rate` per second for `durationMs`, each for every endpoint
   * listed. A contender without durable state may drop what it still holds for the
   * `excluded` endpoints once the events are created, as the ledger ignores them.
   */
  offer(rate: number, durationMs: number, endpoints: readonly number[], excluded?: ReadonlySet<number>): Promise<OfferResult>;
  /**
   * Sets up what an offer of `rate` to `endpoints` needs, such as the service's webhooks, so
   * that the setup stays out of the cell's window. `offer` repeats it when it was skipped.
   */
  prepare?(rate: number, endpoints: readonly number[]): Promise<void>;
  /** Processes whose CPU time counts against this contender. */
  pids(): number[];
  /**
   * The event loop's delay p99 in milliseconds since the previous call, for contenders that
   * report it; the first call in a cell starts the window.
   */
  eventLoopDelayP99?(): Promise<number | undefined>;
  stop(): Promise<void>;
  /** Deletes the data files the contender wrote, once it will not start again. Logs stay. */
  dispose?(): void;
}

/** Ledger keys for events named `${prefix}-${n}`, n from 0 to count - 1, each sent to every endpoint. */
export function sequenceKeys(prefix: string, count: number, endpoints: readonly number[]): Set<string> {
  const keys = new Set<string>();
  for (let i = 0; i < count; i++) for (const endpoint of endpoints) keys.add(key(endpoint, `${prefix}-${i}`));
  return keys;
}

let prefixCounter = 0;

/** A fresh event id prefix, unique within this run. */
export function nextPrefix(tag: string): string {
  prefixCounter += 1;
  return `${tag}${prefixCounter}x${Date.now().toString(36)}`;
}
