import { sql, type SqlBool } from 'kysely';

/*
 * Status terms of the deliveries queue. The queue's indexes are partial (migration 006), and
 * SQLite reads a partial index only for a query whose WHERE clause contains the index's term.
 * The same term with its value bound as a parameter also matches, since SQLite plans with
 * the bound value. The terms are kept here once, so each query and its index name the same rows.
 */

/** Waiting for an attempt: the rows of the deliveries_pending index. */
export const IS_PENDING = sql<SqlBool>`deliveries.status = 'pending'`;

/** Pending or in flight: the rows of the deliveries_open index. */
export const IS_OPEN = sql<SqlBool>`deliveries.status IN ('pending', 'delivering')`;

/** An attempt in flight under a lease: the rows of the deliveries_in_flight index. */
export const IS_DELIVERING = sql<SqlBool>`deliveries.status = 'delivering'`;

/** Finished and eligible for retention: the rows of the deliveries_finished index. */
export const IS_FINISHED = sql<SqlBool>`deliveries.status IN ('succeeded', 'skipped')`;
