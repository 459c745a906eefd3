import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Db } from '../db/database.js';
import type { Logger } from '../observability/logger.js';
import { IS_FINISHED } from './queue-terms.js';

export interface RetentionOptions {
  /** Age after which rows are deleted. */
  readonly maxAgeMs: number;
  /** Rows deleted per statement; each statement holds the write lock only briefly. */
  readonly batchSize: number;
  readonly now?: () => number;
}

export interface PruneCounts {
  attempts: number;
  deliveries: number;
  events: number;
  idempotencyKeys: number;
}

/**
 * Deletes old history in small batches, yielding to the event loop between them so the
 * delivery worker keeps sending: attempts older than the period, succeeded and skipped
 * deliveries finished before it, events left without deliveries, and idempotency keys.
 * Failed deliveries stay, so recovery can still send them.
 */
export class RetentionPruner {
  readonly #now: () => number;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly options: RetentionOptions,
  ) {
    this.#now = options.now ?? Date.now;
  }

  async run(): Promise<PruneCounts> {
    const started = this.#now();
    const cutoff = started - this.options.maxAgeMs;
    const counts: PruneCounts = {
      attempts: await this.#inBatches(() =>
        this.db.selectFrom('delivery_attempts').select('id').where('started_at', '<', cutoff),
      (ids) => this.db.deleteFrom('delivery_attempts').where('id', 'in', ids)),
      deliveries: await this.#inBatches(() =>
        this.db
          .selectFrom('deliveries')
          .select('id')
          .where(IS_FINISHED)
          .where('completed_at', '<', cutoff),
      (ids) => this.db.deleteFrom('deliveries').where('id', 'in', ids)),
      events: await this.#inBatches(() =>
        this.db
          .selectFrom('events')
          .select('id')
          .where('created_at', '<', cutoff)
          .where(({ not, exists, selectFrom }) =>
            not(exists(selectFrom('deliveries').select('id').whereRef('deliveries.event_id', '=', 'events.id'))),
          ),
      (ids) => this.db.deleteFrom('events').where('id', 'in', ids)),
      idempotencyKeys: Number(
        (await this.db.deleteFrom('idempotency_keys').where('created_at', '<', cutoff).executeTakeFirst())
          .numDeletedRows,
      ),
    };

    const total = counts.attempts + counts.deliveries + counts.events + counts.idempotencyKeys;
    if (total > 0) {
      this.log.info(
        { ...counts, cutoff: new Date(cutoff).toISOString(), duration_ms: this.#now() - started },
        'pruned history older than the retention period',
      );
    }
    return counts;
  }

  async #inBatches(
    select: () => { limit(n: number): { execute(): Promise<Array<{ id: string }>> } },
    remove: (ids: string[]) => { executeTakeFirst(): Promise<{ numDeletedRows: bigint }> },
  ): Promise<number> {
    let deleted = 0;
    for (;;) {
      const rows = await select().limit(this.options.batchSize).execute();
      if (rows.length === 0) return deleted;
      const result = await remove(rows.map((row) => row.id)).executeTakeFirst();
      deleted += Number(result.numDeletedRows);
      await yieldToLoop();
    }
  }
}
