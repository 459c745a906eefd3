import type { Db } from '../db/database.js';
import type { SendOutcome } from '../delivery/sender.js';
import { newId } from '../ids.js';

export interface TestRecord {
  readonly webhookId: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly body: string;
  readonly outcome: SendOutcome;
  readonly finishedAt: number;
}

/**
 * Stores a test call as an event with one finished delivery and one attempt of trigger
 * `test`, so it shows in the webhook's delivery log like any other message. It does not
 * change the webhook's failure streak or success count.
 */
export async function recordTestAttempt(db: Db, record: TestRecord): Promise<string> {
  const { result, startedAt, recordedHeaders } = record.outcome;
  const deliveryId = newId('dlv');
  const succeeded = result.failure === undefined;
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('events')
      .values({
        id: record.eventId,
        type: record.eventType,
        payload: record.body,
        request_id: null,
        created_at: startedAt,
      })
      .execute();
    await trx
      .insertInto('deliveries')
      .values({
        id: deliveryId,
        event_id: record.eventId,
        webhook_id: record.webhookId,
        status: succeeded ? 'succeeded' : 'failed',
        attempt_count: 1,
        next_attempt_at: record.finishedAt,
        lease_until: null,
        last_status_code: result.statusCode,
        last_error: result.failure?.message ?? null,
        next_trigger: 'test',
        created_at: startedAt,
        updated_at: record.finishedAt,
        completed_at: record.finishedAt,
      })
      .execute();
    await trx
      .insertInto('delivery_attempts')
      .values({
        id: newId('att'),
        delivery_id: deliveryId,
        webhook_id: record.webhookId,
        attempt_number: 1,
        trigger: 'test',
        started_at: startedAt,
        duration_ms: result.durationMs,
        status_code: result.statusCode,
        error_kind: result.failure?.kind ?? null,
        error: result.failure?.message ?? null,
        request_headers: JSON.stringify(recordedHeaders),
        response_excerpt: result.excerpt,
      })
      .execute();
  });
  return deliveryId;
}
