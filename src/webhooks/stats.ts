import type { Db } from '../db/database.js';

export const STATS_WINDOW_MS = 24 * 60 * 60 * 1000;

/** The outcome of a webhook's most recent delivery attempt. */
export interface LastAttempt {
  at: string;
  succeeded: boolean;
  status_code: number | null;
  error_kind: string | null;
}

export interface WebhookStats {
  /** Share of attempts in the last 24 hours that succeeded, 0 to 1; null without attempts. */
  success_rate_24h: number | null;
  attempts_24h: number;
  last_attempt: LastAttempt | null;
}

export const EMPTY_STATS: WebhookStats = {
  success_rate_24h: null,
  attempts_24h: 0,
  last_attempt: null,
};

/**
 * Computes delivery statistics of the given webhooks from their attempts. An attempt
 * succeeded when it has no error kind, which the sender sets for every failure including
 * a non-2xx status. Test calls are left out, so the figures describe real deliveries.
 */
export async function loadWebhookStats(
  db: Db,
  webhookIds: readonly string[],
  now: number,
): Promise<Map<string, WebhookStats>> {
  const stats = new Map<string, WebhookStats>();
  if (webhookIds.length === 0) return stats;

  const counts = await db
    .selectFrom('delivery_attempts')
    .select((eb) => [
      'webhook_id',
      eb.fn.countAll<number>().as('total'),
      eb.fn.count<number>('id').filterWhere('error_kind', 'is', null).as('succeeded'),
    ])
    .where('webhook_id', 'in', webhookIds)
    .where('trigger', '!=', 'test')
    .where('started_at', '>=', now - STATS_WINDOW_MS)
    .groupBy('webhook_id')
    .execute();
  for (const row of counts) {
    const total = Number(row.total);
    stats.set(row.webhook_id, {
      success_rate_24h: total === 0 ? null : Number(row.succeeded) / total,
      attempts_24h: total,
      last_attempt: null,
    });
  }

  for (const id of webhookIds) {
    const last = await db
      .selectFrom('delivery_attempts')
      .select(['started_at', 'status_code', 'error_kind'])
      .where('webhook_id', '=', id)
      .where('trigger', '!=', 'test')
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!last) continue;
    const entry = stats.get(id) ?? { ...EMPTY_STATS };
    entry.last_attempt = {
      at: new Date(Number(last.started_at)).toISOString(),
      succeeded: last.error_kind === null,
      status_code: last.status_code,
      error_kind: last.error_kind,
    };
    stats.set(id, entry);
  }
  return stats;
}
