import type { Transaction } from 'kysely';
import type { Db } from '../db/database.js';
import { PreparedInsert, PreparedQuery } from '../db/prepared.js';
import type { Database } from '../db/schema.js';
import type { Handoff } from '../delivery/handoff.js';
import type { StoredEvent } from '../delivery/store.js';
import { newId } from '../ids.js';

export interface RecordedEvent {
  readonly id: string;
  readonly type: string;
  /** Deliveries for active webhooks. Inactive webhooks get skipped deliveries, not counted here. */
  readonly deliveryCount: number;
  /** Of those, the deliveries written as pending, which a worker must claim. */
  readonly queuedCount: number;
}

export interface EventInput {
  readonly type: string;
  /** Fields of the payload besides `id`, `event` and `timestamp`. */
  readonly body: Readonly<Record<string, unknown>>;
  readonly requestId: string | null;
  readonly now: number;
  /** Delay before the first attempt: the first entry of the retry schedule. */
  readonly firstDelayMs: number;
  /** A worker in this process that may take deliveries that are due at once. */
  readonly handoff?: Handoff | undefined;
}

/**
 * Writes an event and one delivery for each webhook subscribed to its type: pending for an
 * active webhook, or delivering when `handoff` takes it, and skipped for an inactive one,
 * so recovery can send it later. It runs inside
 * the caller's transaction, so the state change that caused the event, the event and its
 * deliveries are committed together or not at all.
 */
export async function recordEvent(
  trx: Transaction<Database>,
  { type, body, requestId, now, firstDelayMs, handoff }: EventInput,
): Promise<RecordedEvent> {
  const id = newId('evt');
  const payload = JSON.stringify({
    id,
    event: type,
    timestamp: new Date(now).toISOString(),
    ...body,
  });
  await INSERT_EVENT.execute(trx, id, type, payload, requestId, now);

  const { rows: webhooks } = await LIST_WEBHOOKS.execute(trx);
  const subscribers = webhooks.filter((webhook) =>
    (JSON.parse(webhook.event_types) as string[]).includes(type),
  );

  const event: StoredEvent = { id, type, payload, request_id: requestId, created_at: now };
  const due = now + firstDelayMs;
  let active = 0;
  let queued = 0;
  const rows = subscribers.map((webhook) => {
    const deliveryId = newId('dlv');
    if (webhook.is_active !== 1) return [deliveryId, id, webhook.id, 'skipped', due, now, now, now, null, null];
    active += 1;
    const lease = firstDelayMs <= 0 ? handoff?.take(deliveryId, webhook.id, event, now) : undefined;
    if (lease) return [deliveryId, id, webhook.id, 'delivering', due, now, now, null, lease.until, lease.owner];
    queued += 1;
    return [deliveryId, id, webhook.id, 'pending', due, now, now, null, null, null];
  });
  await INSERT_DELIVERIES.execute(trx, rows);
  return { id, type, deliveryCount: active, queuedCount: queued };
}

/**
 * Runs `work` in a transaction with a fresh handoff from `openHandoff`, and commits or
 * abandons the handoff with the transaction. A retried transaction must call this again,
 * so that deliveries taken by a rolled-back attempt are never sent.
 */
export async function inTransactionWithHandoff<T>(
  db: Db,
  openHandoff: (() => Handoff) | undefined,
  work: (trx: Transaction<Database>, handoff: Handoff | undefined) => Promise<T>,
): Promise<T> {
  const handoff = openHandoff?.();
  let result: T;
  try {
    result = await db.transaction().execute((trx) => work(trx, handoff));
  } catch (error) {
    handoff?.abandon();
    throw error;
  }
  handoff?.commit();
  return result;
}

const INSERT_EVENT = new PreparedQuery<
  [id: string, type: string, payload: string, requestId: string | null, createdAt: number],
  never
>(5, (db, id, type, payload, requestId, createdAt) =>
  db.insertInto('events').values({ id, type, payload, request_id: requestId, created_at: createdAt }),
);

const LIST_WEBHOOKS = new PreparedQuery<[], { id: string; event_types: string; is_active: number }>(0, (db) =>
  db.selectFrom('webhooks').select(['id', 'event_types', 'is_active']),
);

/** New deliveries, up to 64 rows of 10 values per statement: far below either database's parameter limit. */
const INSERT_DELIVERIES = new PreparedInsert(
  'deliveries',
  [
    'id',
    'event_id',
    'webhook_id',
    'status',
    'next_attempt_at',
    'created_at',
    'updated_at',
    'completed_at',
    'lease_until',
    'lease_owner',
  ],
  64,
  { attempt_count: 0, last_status_code: null, last_error: null },
);
