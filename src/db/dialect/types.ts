import type { Dialect, Kysely, RawBuilder } from 'kysely';
import type { Logger } from '../../observability/logger.js';
import type { Database } from '../schema.js';

/** The kind of change that makes workers in every process look again. */
export type WakeTopic = 'deliveries' | 'webhooks';

/** An open subscription to wake-ups from other processes. */
export interface WakeSubscription {
  close(): Promise<void>;
}

/**
 * Everything that differs between SQLite and PostgreSQL. Queries and migrations are shared;
 * only what this interface names is written once per dialect.
 */
export interface DatabaseDialect {
  readonly name: 'sqlite' | 'postgres';

  /**
   * True when only one process can use the database, so every delivery still leased at
   * start was left by a previous run of this process and can be released at once.
   */
  readonly singleProcess: boolean;

  /** Builds the Kysely dialect, with its driver or connection pool. */
  createKyselyDialect(log?: Logger): Dialect;

  /**
   * Ends the selection of due rows in a claim. PostgreSQL locks the selected rows and skips
   * rows locked by other workers; SQLite serialises writers, so it needs nothing.
   */
  readonly claimLockClause: RawBuilder<unknown>;

  /**
   * Ends a selection of rows that the transaction goes on to update, so concurrent writers
   * queue in the selection's order. PostgreSQL uses FOR NO KEY UPDATE, which leaves inserts
   * of rows that reference them unblocked; SQLite needs nothing.
   */
  readonly updateLockClause: RawBuilder<unknown>;

  /** Runs `migrate` so that processes starting together apply each migration once. */
  withMigrationLock<T>(db: Kysely<Database>, migrate: (db: Kysely<Database>) => Promise<T>): Promise<T>;

  /** Tells workers in other processes that `topic` changed; call it after the commit. */
  notify(db: Kysely<Database>, topic: WakeTopic): Promise<void>;

  /**
   * Calls `onWake` whenever another process calls notify, and after a lost connection is
   * restored, since notifications sent meanwhile are gone.
   */
  listen(log: Logger, onWake: (topic: WakeTopic) => void): Promise<WakeSubscription>;
}
