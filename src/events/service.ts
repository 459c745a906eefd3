import type { Transaction } from 'kysely';
import { PreparedQuery } from '../db/prepared.js';
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

  for (let start = 0; start < subscribers.length; start += DELIVERY_INSERT_CHUNK) {
    const chunk = subscribers.slice(start, start + DELIVERY_INSERT_CHUNK);
    const values = chunk.flatMap((webhook) => {
      const active = webhook.is_active === 1;
      return [newId('dlv'), id, webhook.id, active ? 'pending' : 'skipped', now + firstDelayMs, now, active ? null : now];
    });
    await insertDeliveries(chunk.length).execute(trx, ...values);
  }
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

/** Rows per delivery insert: 64 rows of 7 values stay far below either database's limit. */
const DELIVERY_INSERT_CHUNK = 64;
/** Values per delivery row, in the order recordEvent passes them. */
const DELIVERY_VALUES = 7;
const deliveryInserts = new Map<number, PreparedQuery<unknown[], never>>();

/** An insert of `rows` new deliveries, prepared once for each row count. */
function insertDeliveries(rows: number): PreparedQuery<unknown[], never> {
  let query = deliveryInserts.get(rows);
  if (!query) {
    query = new PreparedQuery<unknown[], never>(rows * DELIVERY_VALUES, (db, ...values) =>
      db.insertInto('deliveries').values(
        Array.from({ length: rows }, (_, row) => {
          const value = (at: number): never => values[row * DELIVERY_VALUES + at] as never;
          return {
            id: value(0),
            event_id: value(1),
            webhook_id: value(2),
            status: value(3),
            attempt_count: 0,
            next_attempt_at: value(4),
            lease_until: null,
            last_status_code: null,
            last_error: null,
            created_at: value(5),
            updated_at: value(5),
            completed_at: value(6),
          };
        }),
      ),
    );
    deliveryInserts.set(rows, query);
  }
  return query;
}
