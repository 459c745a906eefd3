import os from 'node:os';
import { sql, type RawBuilder, type Transaction } from 'kysely';
import type { Db } from '../db/database.js';
import type { DatabaseDialect } from '../db/dialect/index.js';
import type { AttemptTrigger, Database, DeliveryStatus } from '../db/schema.js';
import { PreparedInsert, PreparedQuery, PreparedRows } from '../db/prepared.js';
import { newId } from '../ids.js';
import { IS_DELIVERING, IS_PENDING } from './queue-terms.js';

export interface ClaimedDelivery {
  readonly id: string;
  readonly event_id: string;
  readonly webhook_id: string;
  readonly attempt_count: number;
  readonly next_trigger: AttemptTrigger;
}

export interface StoredEvent {
  readonly id: string;
  readonly type: string;
  readonly payload: string;
  readonly request_id: string | null;
  readonly created_at: number;
}

export interface ClaimSlot {
  readonly webhookId: string;
  readonly limit: number;
  /** Claims only the webhook's oldest unfinished delivery, and only when it is due. */
  readonly ordered?: boolean;
}

/** The outcome of one attempt, written back in a batch with others. */
export interface AttemptRecord {
  readonly deliveryId: string;
  readonly webhookId: string;
  readonly attemptNumber: number;
  readonly trigger: AttemptTrigger;
  readonly startedAt: number;
  readonly durationMs: number;
  readonly statusCode: number | null;
  readonly errorKind: string | null;
  readonly error: string | null;
  readonly requestHeaders: Readonly<Record<string, string>>;
  readonly excerpt: string | null;
  /** The delivery's state after this attempt. */
  readonly status: Exclude<DeliveryStatus, 'delivering'>;
  readonly nextAttemptAt: number | null;
  readonly finishedAt: number;
}

/** SQLite allows 500 terms in a compound SELECT; stay well below. */
const MAX_SLOTS_PER_CLAIM = 200;
const ATTEMPT_INSERT_CHUNK = 50;

/** The parts of a dialect that the queue needs; the default is SQLite's. */
export type QueueDialect = Pick<DatabaseDialect, 'singleProcess' | 'claimLockClause' | 'updateLockClause'>;
const SINGLE_PROCESS: QueueDialect = { singleProcess: true, claimLockClause: sql``, updateLockClause: sql`` };

/**
 * The delivery queue's storage: claims, leases and the write-back of attempt results. Each
 * store has its own lease owner id: it writes results and releases only deliveries it holds.
 */
export class DeliveryStore {
  constructor(
    private readonly db: Db,
    private readonly dialect: QueueDialect = SINGLE_PROCESS,
    readonly leaseOwner: string = newLeaseOwner(),
  ) {}

  /**
   * Marks due deliveries as delivering under a lease and returns them. Each slot takes at
   * most its own limit of its webhook's oldest due rows, and `total` caps the whole claim,
   * so one webhook's backlog cannot fill the claim for the others.
   */
  async claim(slots: readonly ClaimSlot[], total: number, now: number, leaseUntil: number): Promise<ClaimedDelivery[]> {
    const selected = slots.slice(0, MAX_SLOTS_PER_CLAIM);
    if (selected.length === 0 || total <= 0) return [];

    const lock = this.dialect.claimLockClause;
    const perWebhook = selected.map((slot, index) =>
      slot.ordered ? orderedHead(slot, index, now, lock) : dueRows(slot, index, now, lock),
    );
    const result = await sql<ClaimedDelivery>`
      UPDATE deliveries
      SET status = 'delivering', lease_until = ${leaseUntil}, lease_owner = ${this.leaseOwner},
        updated_at = ${now}
      WHERE id IN (SELECT id FROM (${sql.join(perWebhook, sql` UNION ALL `)}) AS due LIMIT ${total})
      RETURNING id, event_id, webhook_id, attempt_count, next_trigger`.execute(this.db);
    return result.rows;
  }

  async loadEvents(ids: readonly string[]): Promise<Map<string, StoredEvent>> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return new Map();
    const rows = await LOAD_EVENTS.execute(this.db, [], unique.map((id) => [id]));
    return new Map(rows.map((row) => [row.id, row]));
  }

  /** Returns claimed deliveries to the queue without an attempt, e.g. when their webhook went away. */
  async release(ids: readonly string[], now: number): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .updateTable('deliveries')
      .set({ status: 'pending', lease_until: null, lease_owner: null, updated_at: now })
      .where('id', 'in', [...ids])
      .where('status', '=', 'delivering')
      .where('lease_owner', '=', this.leaseOwner)
      .execute();
  }

  /**
   * Writes attempts and the resulting delivery states in one transaction. A delivery that
   * was deleted meanwhile (its webhook was removed) is skipped along with its attempt.
   */
  async recordAttempts(records: readonly AttemptRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      const written = await writeResults(trx, records, this.leaseOwner);
      await INSERT_ATTEMPTS.execute(trx, written.map(toAttemptValues));

      // SQLite runs one writing transaction at a time, so only PostgreSQL needs the row locks.
      if (!this.dialect.singleProcess) await lockWebhooks(trx, written, this.dialect.updateLockClause);
      await skipRetriesOfInactiveWebhooks(trx, written);
      for (const [webhookId, outcome] of webhookOutcomes(written)) {
        await UPDATE_WEBHOOK_OUTCOME.execute(
          trx,
          outcome.successes,
          outcome.lastSuccessAt,
          outcome.lastSucceeded ? 1 : 0,
          outcome.lastAt,
          webhookId,
        );
      }
    });
  }

  /**
   * Returns deliveries left in flight by a previous run to the queue at start. With one
   * process per database every lease is stale; with several, another worker may hold a
   * live lease, so only expired leases are returned.
   */
  async recoverInFlight(now: number): Promise<number> {
    return this.dialect.singleProcess ? this.releaseAllInFlight(now) : this.reapExpiredLeases(now);
  }

  /**
   * Puts every delivery that was in flight back in the queue. Only safe when this process
   * is the only one using the database, which holds for SQLite.
   */
  async releaseAllInFlight(now: number): Promise<number> {
    const result = await this.db
      .updateTable('deliveries')
      .set({
        status: 'pending',
        lease_until: null,
        lease_owner: null,
        next_attempt_at: now,
        updated_at: now,
      })
      .where(IS_DELIVERING)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Puts back deliveries whose lease ran out, e.g. because the process holding them died. */
  async reapExpiredLeases(now: number): Promise<number> {
    const result = await this.db
      .updateTable('deliveries')
      .set({ status: 'pending', lease_until: null, lease_owner: null, updated_at: now })
      .where(IS_DELIVERING)
      .where('lease_until', '<', now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Returns the earliest due time among pending deliveries, or undefined when none are pending. */
  async nextDueAt(): Promise<number | undefined> {
    // One index seek per webhook in deliveries_pending, whose rows are ordered by due time
    // within each webhook. No index on the due time alone is kept, so none costs writes.
    const result = await sql<{ due: number | string | null }>`
      SELECT min((
        SELECT next_attempt_at FROM deliveries
        WHERE deliveries.webhook_id = webhooks.id AND deliveries.status = 'pending'
        ORDER BY next_attempt_at
        LIMIT 1
      )) AS due
      FROM webhooks`.execute(this.db);
    const due = result.rows[0]?.due;
    return due === null || due === undefined ? undefined : Number(due);
  }
}

/** Creates a lease owner id that names the host and process, so operators see who holds a delivery. */
export function newLeaseOwner(): string {
  return `${os.hostname()}/${process.pid}/${newId('wrk')}`;
}

function dueRows(slot: ClaimSlot, index: number, now: number, lock: RawBuilder<unknown>) {
  return sql`SELECT id FROM (
    SELECT id FROM deliveries
    WHERE webhook_id = ${slot.webhookId} AND status = 'pending' AND next_attempt_at <= ${now}
    ORDER BY next_attempt_at, id
    LIMIT ${slot.limit}
    ${lock}
  ) AS ${sql.raw(`s${index}`)}`;
}

/**
 * Selects the head of an ordered webhook's queue when it is due. While the head is in flight
 * or waiting for a retry, nothing behind it is claimed, which is the holdback. The head is
 * found first and only then locked: skipping a locked head must not promote the next row.
 */
function orderedHead(slot: ClaimSlot, index: number, now: number, lock: RawBuilder<unknown>) {
  return sql`SELECT id FROM (
    SELECT id FROM deliveries
    WHERE id = (
      SELECT id FROM deliveries
      WHERE webhook_id = ${slot.webhookId} AND status IN ('pending', 'delivering')
      ORDER BY id
      LIMIT 1
    ) AND status = 'pending' AND next_attempt_at <= ${now}
    ${lock}
  ) AS ${sql.raw(`s${index}`)}`;
}

/**
 * Locks the webhook rows that the write-back updates, in id order. Workers writing at the
 * same time then wait for each other instead of deadlocking on the same rows.
 */
async function lockWebhooks(
  trx: Transaction<Database>,
  records: readonly AttemptRecord[],
  lock: RawBuilder<unknown>,
): Promise<void> {
  const ids = [...new Set(records.map((record) => record.webhookId))];
  if (ids.length === 0) return;
  await sql`SELECT id FROM webhooks WHERE id IN (${sql.join(ids)}) ORDER BY id ${lock}`.execute(trx);
}

/** SQL types of the values of one result in the write-back, in the order of its VALUES rows. */
const RESULT_COLUMNS = ['TEXT', 'TEXT', 'INTEGER', 'BIGINT', 'INTEGER', 'TEXT', 'BIGINT', 'BIGINT'] as const;

/**
 * Writes attempt results to their deliveries and returns the records whose delivery this
 * store still held. A record is dropped when its delivery was deleted meanwhile or another
 * worker took over the lease. One UPDATE per 100 results replaced one per attempt, which
 * on PostgreSQL cost a round trip each.
 */
async function writeResults(
  trx: Transaction<Database>,
  records: readonly AttemptRecord[],
  leaseOwner: string,
): Promise<AttemptRecord[]> {
  const rows = records.map((record) => [
    record.deliveryId,
    record.status,
    record.attemptNumber,
    record.nextAttemptAt ?? record.finishedAt,
    record.statusCode,
    record.error,
    record.finishedAt,
    record.status === 'pending' ? null : record.finishedAt,
  ]);
  const updated = new Set((await WRITE_RESULTS.execute(trx, [leaseOwner], rows)).map((row) => row.id));
  return records.filter((record) => updated.has(record.deliveryId));
}

/**
 * Updates each delivery named in a VALUES row to the state in that row, provided this store
 * still holds its lease, and returns the ids it changed. PostgreSQL reads an untyped
 * parameter in VALUES as text and rejects text for a bigint column, so each value is cast
 * to its column's type. In SQLite the casts match the columns' affinities. A chunk of 100
 * results binds 801 values, far below either database's limit.
 *
 * Only delivering rows have a lease owner, as every change out of that status clears it, so
 * the owner alone tells that the lease is still held. A status condition as well would match
 * the partial index of in-flight rows, and PostgreSQL then scanned every in-flight row for
 * each chunk (20,000 rows, 8 ms) instead of looking up 100 ids by primary key (2 ms).
 */
const WRITE_RESULTS = new PreparedRows<{ id: string }>(1, RESULT_COLUMNS.length, 100, (db, [leaseOwner], rowSlots) => {
  const rows = rowSlots.map((slots) => {
    const cells = RESULT_COLUMNS.map((type, column) => sql`CAST(${slots[column]} AS ${sql.raw(type)})`);
    return sql`(${sql.join(cells)})`;
  });
  const statement = sql<{ id: string }>`
    UPDATE deliveries
    SET status = v.column2, attempt_count = v.column3, next_attempt_at = v.column4,
      next_trigger = 'automatic', lease_until = NULL, lease_owner = NULL,
      last_status_code = v.column5, last_error = v.column6, updated_at = v.column7,
      completed_at = v.column8
    FROM (VALUES ${sql.join(rows)}) AS v
    WHERE deliveries.id = v.column1 AND deliveries.lease_owner = ${leaseOwner}
    RETURNING deliveries.id`;
  return { compile: () => statement.compile(db) };
});

/** Reads events by id, up to 100 per statement, with one statement text per list length. */
const LOAD_EVENTS = new PreparedRows<StoredEvent>(0, 1, 100, (db, _leading, rowSlots) =>
  db
    .selectFrom('events')
    .select(['id', 'type', 'payload', 'request_id', 'created_at'])
    .where('id', 'in', rowSlots.map(([id]) => id as never)),
);

const INSERT_ATTEMPTS = new PreparedInsert(
  'delivery_attempts',
  [
    'id',
    'delivery_id',
    'webhook_id',
    'attempt_number',
    'trigger',
    'started_at',
    'duration_ms',
    'status_code',
    'error_kind',
    'error',
    'request_headers',
    'response_excerpt',
  ],
  ATTEMPT_INSERT_CHUNK,
);

/** Lists the values of one attempt row, in the column order of INSERT_ATTEMPTS. */
function toAttemptValues(record: AttemptRecord): unknown[] {
  return [
    newId('att'),
    record.deliveryId,
    record.webhookId,
    record.attemptNumber,
    record.trigger,
    record.startedAt,
    record.durationMs,
    record.statusCode,
    record.errorKind,
    record.error,
    JSON.stringify(record.requestHeaders),
    record.excerpt,
  ];
}

/**
 * Turns a retry into a skipped delivery when its webhook was deactivated while the attempt
 * was in flight, as deactivation did with the webhook's other pending deliveries.
 */
async function skipRetriesOfInactiveWebhooks(trx: Transaction<Database>, records: readonly AttemptRecord[]) {
  const retries = records.filter((record) => record.status === 'pending');
  if (retries.length === 0) return;
  await trx
    .updateTable('deliveries')
    .set((eb) => ({ status: 'skipped', completed_at: eb.ref('updated_at') }))
    .where('id', 'in', retries.map((record) => record.deliveryId))
    .where('status', '=', 'pending')
    .where('webhook_id', 'in', (eb) => eb.selectFrom('webhooks').select('id').where('is_active', '=', 0))
    .execute();
}

/** The changes one write-back makes to a webhook's row. */
interface WebhookOutcome {
  successes: number;
  /** The latest finish of a successful attempt, or 0 without one. */
  lastSuccessAt: number;
  /** Whether the webhook's last record in the batch succeeded. */
  lastSucceeded: boolean;
  /** When that last attempt finished. */
  lastAt: number;
}

/** Sums a batch of attempt records per webhook. A webhook's last record sets its failure streak. */
function webhookOutcomes(records: readonly AttemptRecord[]): Map<string, WebhookOutcome> {
  const outcomes = new Map<string, WebhookOutcome>();
  for (const record of records) {
    const succeeded = record.errorKind === null;
    let outcome = outcomes.get(record.webhookId);
    if (!outcome) {
      outcome = { successes: 0, lastSuccessAt: 0, lastSucceeded: succeeded, lastAt: record.finishedAt };
      outcomes.set(record.webhookId, outcome);
    }
    outcome.lastSucceeded = succeeded;
    outcome.lastAt = record.finishedAt;
    if (record.status === 'succeeded') {
      outcome.successes += 1;
      outcome.lastSuccessAt = Math.max(outcome.lastSuccessAt, record.finishedAt);
    }
  }
  return outcomes;
}

/**
 * Counts a webhook's successful deliveries and moves the failure streak that auto-disable
 * reads. The streak starts at the first failed attempt and ends at a success. The row is
 * written only when one of these values changes.
 */
const UPDATE_WEBHOOK_OUTCOME = new PreparedQuery<
  [successes: number, lastSuccessAt: number, lastSucceeded: 0 | 1, lastAt: number, id: string],
  never
>(5, (db, successes, lastSuccessAt, lastSucceeded, lastAt, id) =>
  db
    .updateTable('webhooks')
    .set({
      trigger_count: sql<number>`trigger_count + ${successes}`,
      last_triggered: sql<number>`CASE WHEN ${successes} > 0 AND (last_triggered IS NULL OR last_triggered < ${lastSuccessAt})
        THEN ${lastSuccessAt} ELSE last_triggered END`,
      failing_since: sql<number>`CASE WHEN ${lastSucceeded} = 1 THEN NULL
        WHEN failing_since IS NULL THEN ${lastAt} ELSE failing_since END`,
    })
    .where('id', '=', id)
    .where(
      sql<boolean>`(${successes} > 0 OR (${lastSucceeded} = 1 AND failing_since IS NOT NULL)
        OR (${lastSucceeded} = 0 AND failing_since IS NULL))`,
    ),
);

/**
 * Counts pending deliveries in steps of `chunk` index entries, with a turn of the event
 * loop between steps. On SQLite one count(*) of a million pending rows took 45 ms in a
 * test, and the event loop waits for all of it. Each step here stayed under 10 ms, though
 * the steps took about three times the CPU in all. Rows that change meanwhile may be missed
 * or counted twice, which a gauge can afford.
 */
export async function countPending(db: Db, chunk = 50_000): Promise<number> {
  let counted = 0;
  let after: [webhookId: string, nextAttemptAt: number | string, id: string] = ['', Number.MIN_SAFE_INTEGER, ''];
  for (;;) {
    // The last entry of the next chunk, found by walking deliveries_pending from `after`.
    const { rows } = await sql<{ webhook_id: string; next_attempt_at: number | string; id: string }>`
      SELECT webhook_id, next_attempt_at, id FROM deliveries
      WHERE ${IS_PENDING} AND (webhook_id, next_attempt_at, id) > (${after[0]}, ${after[1]}, ${after[2]})
      ORDER BY webhook_id, next_attempt_at, id
      LIMIT 1 OFFSET ${chunk - 1}`.execute(db);
    const last = rows[0];
    if (last === undefined) break;
    counted += chunk;
    after = [last.webhook_id, last.next_attempt_at, last.id];
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const { rows } = await sql<{ count: number | string }>`
    SELECT count(*) AS count FROM deliveries
    WHERE ${IS_PENDING} AND (webhook_id, next_attempt_at, id) > (${after[0]}, ${after[1]}, ${after[2]})`.execute(
    db,
  );
  return counted + Number(rows[0]?.count ?? 0);
}
