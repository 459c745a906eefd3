import type { AttemptTrigger } from '../db/schema.js';
import type { FailureKind } from '../outbound/client.js';

export type AttemptDecision =
  | { readonly status: 'succeeded' }
  | { readonly status: 'failed'; readonly reason: string }
  | { readonly status: 'pending'; readonly delayMs: number };

/**
 * Decides what follows an attempt. `scheduleMs[n]` is the delay before attempt n + 1, so
 * after attempt n fails the next one waits `scheduleMs[n]`, and once the schedule is used
 * up the delivery fails. A blocked destination is final: trying again would resolve the
 * name again, and a name that flips between answers must not get a second chance. An
 * operator's redelivery is a single attempt.
 */
export function decideAfterAttempt(
  scheduleMs: readonly number[],
  attemptNumber: number,
  trigger: AttemptTrigger,
  failure: FailureKind | undefined,
): AttemptDecision {
  if (failure === undefined) return { status: 'succeeded' };
  if (failure === 'blocked') return { status: 'failed', reason: 'destination blocked' };
  if (trigger === 'manual') return { status: 'failed', reason: 'redelivery failed' };

  const delayMs = scheduleMs[attemptNumber];
  if (delayMs === undefined) return { status: 'failed', reason: 'retry schedule exhausted' };
  return { status: 'pending', delayMs };
}
