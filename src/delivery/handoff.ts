import type { StoredEvent } from './store.js';

/** The lease a delivery is written with when a worker takes it at creation. */
export interface HandoffLease {
  readonly owner: string;
  readonly until: number;
}

/**
 * A channel from the transaction that creates deliveries to a worker in the same process,
 * which sends them without claiming them from the queue. A delivery the worker takes is
 * written as delivering under the worker's lease. Any other is written as pending, and a
 * claim finds it. `commit` or `abandon` must follow the transaction.
 */
export interface Handoff {
  /** Takes a delivery that is due now, or returns undefined when the worker has no free slot for it. */
  take(deliveryId: string, webhookId: string, event: StoredEvent, now: number): HandoffLease | undefined;
  /** Starts the attempts of what was taken; called after the transaction committed. */
  commit(): void;
  /** Frees the slots of what was taken; called after the transaction rolled back. */
  abandon(): void;
}
