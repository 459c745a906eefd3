import type { Db } from '../db/database.js';
import { AppError, notFound } from '../errors.js';

const PAGE_SIZE = 500;

export interface RecoveryResult {
  webhook_id: string;
  since: string;
  /** Deliveries queued again. */
  queued: number;
  /** When the last of them is due, given the recovery rate. */
  last_due_at: string | null;
}

/**
 * Queues every failed or skipped delivery of a webhook created since a time, oldest first.
 * Each one is due `1000 / ratePerSecond` ms after the previous one, so the receiver gets
 * the backlog at the recovery rate instead of all at once. The webhook's own caps and rate
 * limit apply on top. The attempts are recorded with trigger `manual`.
 */
export async function recoverWebhook(
  db: Db,
  webhookId: string,
  since: number,
  ratePerSecond: number,
  now: number,
): Promise<RecoveryResult> {
  const webhook = await db
    .selectFrom('webhooks')
    .select(['id', 'is_active'])
    .where('id', '=', webhookId)
    .executeTakeFirst();
  if (!webhook) throw notFound('webhook', webhookId);
  if (webhook.is_active !== 1) {
    throw new AppError(
      'invalid_transition',
      `Webhook ${webhookId} is inactive; activate it with PATCH {"is_active": true} before recovering.`,
    );
  }

  const spacingMs = 1000 / ratePerSecond;
  let queued = 0;
  let after = '';
  for (;;) {
    const page = await db
      .selectFrom('deliveries')
      .select('id')
      .where('webhook_id', '=', webhookId)
      .where('status', 'in', ['failed', 'skipped'])
      .where('created_at', '>=', since)
      .where('id', '>', after)
      .orderBy('id')
      .limit(PAGE_SIZE)
      .execute();
    if (page.length === 0) break;

    await db.transaction().execute(async (trx) => {
      for (const row of page) {
        await trx
          .updateTable('deliveries')
          .set({
            status: 'pending',
            next_attempt_at: now + Math.round(queued * spacingMs),
            next_trigger: 'manual',
            completed_at: null,
            updated_at: now,
          })
          .where('id', '=', row.id)
          .where('status', 'in', ['failed', 'skipped'])
          .execute();
        queued += 1;
      }
    });
    after = page[page.length - 1]!.id;
  }

  const lastDue = queued === 0 ? null : now + Math.round((queued - 1) * spacingMs);
  return {
    webhook_id: webhookId,
    since: new Date(since).toISOString(),
    queued,
    last_due_at: lastDue === null ? null : new Date(lastDue).toISOString(),
  };
}
