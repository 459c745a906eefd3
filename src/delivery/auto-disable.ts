import type { Db } from '../db/database.js';
import { formatDuration } from '../config/duration.js';
import { WEBHOOK_DISABLED } from '../events/catalog.js';
import { recordEvent } from '../events/service.js';
import type { Logger } from '../observability/logger.js';
import { IS_PENDING } from './queue-terms.js';

export interface AutoDisableOptions {
  /** A webhook whose attempts have all failed for this long is deactivated. */
  readonly disableAfterMs: number;
  readonly firstDelayMs: number;
  /** Called after deactivations, so the worker drops the webhooks and sends the new events. */
  readonly onDisabled: () => void;
  readonly now?: () => number;
}

interface Candidate {
  id: string;
  name: string;
  url: string;
  failing_since: number | null;
}

/**
 * Deactivates webhooks whose every attempt has failed for the configured period. Each
 * deactivation stores the reason and time, turns the webhook's pending deliveries into
 * skipped ones (recovery can send them later), and records a `webhook.disabled` event for
 * the webhooks subscribed to that type, all in one transaction.
 */
export class AutoDisabler {
  readonly #now: () => number;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly options: AutoDisableOptions,
  ) {
    this.#now = options.now ?? Date.now;
  }

  /** Returns the ids of the webhooks it deactivated. */
  async run(): Promise<string[]> {
    const now = this.#now();
    const candidates = await this.db
      .selectFrom('webhooks')
      .select(['id', 'name', 'url', 'failing_since'])
      .where('is_active', '=', 1)
      .where('failing_since', '<=', now - this.options.disableAfterMs)
      .execute();

    const disabled: string[] = [];
    for (const candidate of candidates) {
      if (await this.#disable(candidate, now)) disabled.push(candidate.id);
    }
    if (disabled.length > 0) this.options.onDisabled();
    return disabled;
  }

  async #disable(webhook: Candidate, now: number): Promise<boolean> {
    const failingSince = webhook.failing_since as number;
    const reason = `every attempt failed for ${formatDuration(this.options.disableAfterMs)}`;
    const outcome = await this.db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('webhooks')
        .set({ is_active: 0, disabled_reason: reason, disabled_at: now, updated_at: now })
        .where('id', '=', webhook.id)
        .where('is_active', '=', 1)
        .where('failing_since', '=', failingSince)
        .executeTakeFirst();
      // A success or an operator's change since the select wins.
      if (Number(updated.numUpdatedRows) !== 1) return undefined;

      const skipped = await trx
        .updateTable('deliveries')
        .set({ status: 'skipped', completed_at: now, updated_at: now })
        .where('webhook_id', '=', webhook.id)
        .where(IS_PENDING)
        .executeTakeFirst();
      const event = await recordEvent(trx, {
        type: WEBHOOK_DISABLED,
        body: {
          webhook: {
            id: webhook.id,
            name: webhook.name,
            url: webhook.url,
            reason,
            failing_since: new Date(failingSince).toISOString(),
            disabled_at: new Date(now).toISOString(),
          },
        },
        requestId: null,
        now,
        firstDelayMs: this.options.firstDelayMs,
      });
      return { skipped: Number(skipped.numUpdatedRows), eventId: event.id };
    });
    if (outcome === undefined) return false;

    this.log.error(
      {
        webhook_id: webhook.id,
        failing_since: new Date(failingSince).toISOString(),
        reason,
        skipped_deliveries: outcome.skipped,
        event_id: outcome.eventId,
      },
      'webhook disabled after failing for the whole disable period',
    );
    return true;
  }
}
