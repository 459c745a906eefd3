import type { LastAttempt } from '../api.js';
import { describeFailure } from '../format.js';

const STATUS_TONES: Readonly<Record<string, string>> = {
  succeeded: 'good',
  failed: 'bad',
  pending: 'wait',
  delivering: 'wait',
  DRAFT: 'neutral',
  PENDING: 'wait',
  APPROVED: 'good',
  REJECTED: 'bad',
  COMPLETED: 'good',
};

/** A coloured label for a delivery or report status; the text carries the meaning, not the colour. */
export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge badge-${STATUS_TONES[status] ?? 'neutral'}`}>{status}</span>;
}

export function LastOutcome({ attempt }: { attempt: LastAttempt | null }) {
  if (attempt === null) return <span class="muted">No attempts yet</span>;
  return (
    <span class={`badge badge-${attempt.succeeded ? 'good' : 'bad'}`}>
      {describeFailure(attempt.error_kind, attempt.status_code)}
    </span>
  );
}
