import type { AttemptTrigger } from '../db/schema.js';
import type { FailureKind } from '../outbound/client.js';

export type AttemptDecision =
  | { readonly status: 'succeeded' }
  | { readonly status: 'failed'; readonly reason: string }
  | { readonly status: 'pending'; readonly delayMs: number };

/** The parts of a receiver's response that the retry decision uses. */
export interface AttemptOutcome {
  readonly failure: FailureKind | undefined;
  readonly statusCode: number | null;
  /** The raw Retry-After header of the response, if any. */
  readonly retryAfter?: string | undefined;
}

export interface RetryOptions {
  readonly scheduleMs: readonly number[];
  /** Share of each delay that is randomised: 0.2 spreads a delay over ±20 %. */
  readonly jitter: number;
  /** A number in [0, 1); Math.random in production, fixed in tests. */
  readonly random: () => number;
  readonly now: number;
}

/** Status codes whose Retry-After header is honoured (RFC 9110, section 10.2.3). */
const RETRY_AFTER_STATUSES = new Set([429, 503]);

/**
 * Decides what follows an attempt. `scheduleMs[n]` is the delay before attempt n + 1, so
 * after attempt n fails the next one waits about `scheduleMs[n]`, and once the schedule is
 * used up the delivery fails. A blocked destination is final: trying again would resolve
 * the name again, and a name that flips between answers must not get a second chance. An
 * operator's redelivery and a test call are single attempts.
 */
export function decideAfterAttempt(
  options: RetryOptions,
  attemptNumber: number,
  trigger: AttemptTrigger,
  outcome: AttemptOutcome,
): AttemptDecision {
  if (outcome.failure === undefined) return { status: 'succeeded' };
  if (outcome.failure === 'blocked') return { status: 'failed', reason: 'destination blocked' };
  if (trigger === 'manual') return { status: 'failed', reason: 'redelivery failed' };
  if (trigger === 'test') return { status: 'failed', reason: 'test call failed' };

  const scheduled = options.scheduleMs[attemptNumber];
  if (scheduled === undefined) return { status: 'failed', reason: 'retry schedule exhausted' };

  const jittered = applyJitter(scheduled, options.jitter, options.random);
  const requested = RETRY_AFTER_STATUSES.has(outcome.statusCode ?? 0)
    ? parseRetryAfter(outcome.retryAfter, options.now)
    : undefined;
  if (requested === undefined) return { status: 'pending', delayMs: jittered };
  return { status: 'pending', delayMs: clampToSchedule(requested, scheduled, options.scheduleMs) };
}

/** Spreads a delay uniformly over [delay × (1 − jitter), delay × (1 + jitter)]. */
export function applyJitter(delayMs: number, jitter: number, random: () => number): number {
  if (delayMs === 0 || jitter === 0) return delayMs;
  const spread = delayMs * jitter;
  return Math.max(0, Math.round(delayMs - spread + random() * 2 * spread));
}

/**
 * Reads Retry-After as delay-seconds or an HTTP date (RFC 9110, section 10.2.3) and returns
 * milliseconds from `now`; undefined when the header is missing or malformed.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date names the weekday and month, e.g. "Wed, 21 Oct 2026 07:28:00 GMT".
  if (!/^[A-Za-z]{3}, /.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * Keeps a receiver's requested delay within the schedule's bounds. It is never shorter than
 * the scheduled delay, so a receiver cannot make the service retry faster. It is never
 * longer than the schedule's largest delay, so a receiver cannot park a delivery for days.
 */
function clampToSchedule(requestedMs: number, scheduledMs: number, scheduleMs: readonly number[]): number {
  const longest = Math.max(...scheduleMs);
  return Math.min(Math.max(requestedMs, scheduledMs), longest);
}
