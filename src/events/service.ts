import type { Transaction } from 'kysely';
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
  await trx
    .insertInto('events')
    .values({ id, type, payload, request_id: requestId, created_at: now })
    .execute();

  const webhooks = await trx
    .selectFrom('webhooks')
    .select(['id', 'event_types', 'is_active'])
    .execute();
  const subscribers = webhooks.filter((webhook) =>
    (JSON.parse(webhook.event_types) as string[]).includes(type),
  );

  if (subscribers.length > 0) {
    await trx
      .insertInto('deliveries')
      .values(
        subscribers.map((webhook) => ({
          id: newId('dlv'),
          event_id: id,
          webhook_id: webhook.id,
          status: webhook.is_active === 1 ? ('pending' as const) : ('skipped' as const),
          attempt_count: 0,
          next_attempt_at: now + firstDelayMs,
          lease_until: null,
          last_status_code: null,
          last_error: null,
          created_at: now,
          updated_at: now,
          completed_at: webhook.is_active === 1 ? null : now,
        })),
      )
      .execute();
  }
  const active = subscribers.filter((webhook) => webhook.is_active === 1).length;
  return { id, type, deliveryCount: active };
}
