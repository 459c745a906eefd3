import type { Transaction } from 'kysely';
import { PreparedInsert, PreparedQuery } from '../db/prepared.js';
import type { Database } from '../db/schema.js';
import { newId } from '../ids.js';

export interface RecordedEvent {
  readonly id: string;
  readonly type: string;
  /** Deliveries queued for active webhooks; inactive ones get skipped deliveries. */
  readonly deliveryCount: number;
}

export interface EventInput {
  readonly type: string;
  /** Fields of the payload besides `id`, `event` and `timestamp`. */
  readonly body: Readonly<Record<string, unknown>>;
  readonly requestId: string | null;
  readonly now: number;
  /** Delay before the first attempt: the first entry of the retry schedule. */
  readonly firstDelayMs: number;
}

/**
 * Writes an event and one delivery for each webhook subscribed to its type: pending for an
 * active webhook, skipped for an inactive one, so recovery can send it later. It runs inside
 * the caller's transaction, so the state change that caused the event, the event and its
 * deliveries are committed together or not at all.
 */
export async function recordEvent(
  trx: Transaction<Database>,
  { type, body, requestId, now, firstDelayMs }: EventInput,
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

  const rows = subscribers.map((webhook) => {
    const active = webhook.is_active === 1;
    const status = active ? 'pending' : 'skipped';
    return [newId('dlv'), id, webhook.id, status, now + firstDelayMs, now, now, active ? null : now];
  });
  await INSERT_DELIVERIES.execute(trx, rows);
  const active = subscribers.filter((webhook) => webhook.is_active === 1).length;
  return { id, type, deliveryCount: active };
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

/** New deliveries, up to 64 rows of 8 values per statement: far below either database's parameter limit. */
const INSERT_DELIVERIES = new PreparedInsert(
  'deliveries',
  ['id', 'event_id', 'webhook_id', 'status', 'next_attempt_at', 'created_at', 'updated_at', 'completed_at'],
  64,
  { attempt_count: 0, lease_until: null, last_status_code: null, last_error: null },
);
