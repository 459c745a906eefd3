import type { Db } from '../db/database.js';
import type { AttemptRow, DeliveryStatus } from '../db/schema.js';
import { AppError, notFound } from '../errors.js';
import { IS_OPEN } from './queue-terms.js';

export interface DeliverySummary {
  id: string;
  event_id: string;
  event_type: string;
  webhook_id: string;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  /**
   * On an ordered webhook: the delivery that must finish before this pending one is sent;
   * null when nothing blocks it.
   */
  held_back_by: string | null;
}

export interface Holdback {
  webhook_id: string;
  ordered: boolean;
  /** The oldest unfinished delivery, which the rest wait for; null when the queue is empty. */
  head: DeliverySummary | null;
  /** Pending deliveries waiting behind the head. */
  held_back: number;
}

export interface PublicAttempt {
  id: string;
  attempt_number: number;
  trigger: string;
  started_at: string;
  duration_ms: number;
  status_code: number | null;
  error_kind: string | null;
  error: string | null;
  request_headers: Record<string, string>;
  response_excerpt: string | null;
}

export interface DeliveryDetail extends DeliverySummary {
  payload: unknown;
  attempts: PublicAttempt[];
}

export interface DeliveryFilter {
  status?: DeliveryStatus;
  event_type?: string;
  limit: number;
  /** Return deliveries older than this delivery id (the previous page's next_cursor). */
  before?: string;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Read access to deliveries and their attempts, and operator redelivery. */
export class DeliveryService {
  constructor(
    private readonly db: Db,
    private readonly onRequeued: () => void,
    private readonly now: () => number = Date.now,
  ) {}

  async listForWebhook(
    webhookId: string,
    filter: DeliveryFilter,
  ): Promise<{ data: DeliverySummary[]; next_cursor: string | null }> {
    const webhook = await this.db.selectFrom('webhooks').select('id').where('id', '=', webhookId).executeTakeFirst();
    if (!webhook) throw notFound('webhook', webhookId);

    let query = this.#summaries().where('deliveries.webhook_id', '=', webhookId);
    if (filter.status) query = query.where('deliveries.status', '=', filter.status);
    if (filter.event_type) query = query.where('events.type', '=', filter.event_type);
    if (filter.before) query = query.where('deliveries.id', '<', filter.before);

    const rows = await query.orderBy('deliveries.id', 'desc').limit(filter.limit + 1).execute();
    const head = await this.#orderedHead(webhookId);
    const page = rows.slice(0, filter.limit).map((row) => toSummary(row, head?.id));
    const more = rows.length > filter.limit;
    return { data: page, next_cursor: more ? (page.at(-1)?.id ?? null) : null };
  }

  async get(id: string): Promise<DeliveryDetail> {
    const row = await this.#summaries()
      .select('events.payload')
      .where('deliveries.id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound('delivery', id);

    const attempts = await this.db
      .selectFrom('delivery_attempts')
      .selectAll()
      .where('delivery_id', '=', id)
      .orderBy('attempt_number')
      .execute();
    const head = await this.#orderedHead(row.webhook_id);
    return { ...toSummary(row, head?.id), payload: JSON.parse(row.payload), attempts: attempts.map(toPublicAttempt) };
  }

  /**
   * Queues one more attempt of a delivery that has finished, successfully or not, with the
   * same webhook-id. A delivery still queued or in flight is left alone.
   */
  async redeliver(id: string): Promise<DeliverySummary> {
    const now = this.now();
    const result = await this.db
      .updateTable('deliveries')
      .set({ status: 'pending', next_attempt_at: now, next_trigger: 'manual', completed_at: null, updated_at: now })
      .where('id', '=', id)
      .where('status', 'in', ['succeeded', 'failed', 'skipped'])
      .executeTakeFirst();

    if (Number(result.numUpdatedRows) === 0) {
      const existing = await this.db.selectFrom('deliveries').select('status').where('id', '=', id).executeTakeFirst();
      if (!existing) throw notFound('delivery', id);
      throw new AppError(
        'invalid_transition',
        `Delivery ${id} is ${existing.status}; only a succeeded, failed or skipped delivery can be sent again.`,
      );
    }
    this.onRequeued();
    const row = await this.#summaries().where('deliveries.id', '=', id).executeTakeFirstOrThrow();
    return toSummary(row);
  }

  /** The head of a webhook's queue and how many deliveries wait behind it. */
  async holdback(webhookId: string): Promise<Holdback> {
    const webhook = await this.db
      .selectFrom('webhooks')
      .select(['id', 'is_ordered'])
      .where('id', '=', webhookId)
      .executeTakeFirst();
    if (!webhook) throw notFound('webhook', webhookId);

    const head = await this.#summaries()
      .where('deliveries.webhook_id', '=', webhookId)
      .where(IS_OPEN)
      .orderBy('deliveries.id')
      .limit(1)
      .executeTakeFirst();
    const ordered = webhook.is_ordered === 1;
    let heldBack = 0;
    if (ordered && head) {
      // Nothing behind the head of an ordered webhook is claimed, so every unfinished
      // delivery after it is pending and held back.
      const count = await this.db
        .selectFrom('deliveries')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .where('webhook_id', '=', webhookId)
        .where(IS_OPEN)
        .where('id', '>', head.id)
        .executeTakeFirstOrThrow();
      heldBack = Number(count.count);
    }
    return { webhook_id: webhookId, ordered, head: head ? toSummary(head) : null, held_back: heldBack };
  }

  /** The oldest unfinished delivery of an ordered webhook, which holds back later ones. */
  async #orderedHead(webhookId: string): Promise<{ id: string } | undefined> {
    return this.db
      .selectFrom('deliveries')
      .innerJoin('webhooks', 'webhooks.id', 'deliveries.webhook_id')
      .select('deliveries.id')
      .where('deliveries.webhook_id', '=', webhookId)
      .where('webhooks.is_ordered', '=', 1)
      .where(IS_OPEN)
      .orderBy('deliveries.id')
      .limit(1)
      .executeTakeFirst();
  }

  #summaries() {
    return this.db
      .selectFrom('deliveries')
      .innerJoin('events', 'events.id', 'deliveries.event_id')
      .select([
        'deliveries.id',
        'deliveries.event_id',
        'events.type as event_type',
        'deliveries.webhook_id',
        'deliveries.status',
        'deliveries.attempt_count',
        'deliveries.next_attempt_at',
        'deliveries.last_status_code',
        'deliveries.last_error',
        'deliveries.created_at',
        'deliveries.updated_at',
        'deliveries.completed_at',
      ]);
  }
}

interface SummaryRow {
  id: string;
  event_id: string;
  event_type: string;
  webhook_id: string;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: number;
  last_status_code: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
}

function toSummary(row: SummaryRow, orderedHeadId?: string): DeliverySummary {
  const waiting = row.status === 'pending';
  const heldBack = waiting && orderedHeadId !== undefined && row.id > orderedHeadId;
  return {
    id: row.id,
    event_id: row.event_id,
    event_type: row.event_type,
    webhook_id: row.webhook_id,
    status: row.status,
    attempt_count: row.attempt_count,
    next_attempt_at: waiting ? iso(row.next_attempt_at) : null,
    last_status_code: row.last_status_code,
    last_error: row.last_error,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
    completed_at: iso(row.completed_at),
    held_back_by: heldBack ? (orderedHeadId as string) : null,
  };
}

function toPublicAttempt(row: AttemptRow): PublicAttempt {
  return {
    id: row.id,
    attempt_number: row.attempt_number,
    trigger: row.trigger,
    started_at: new Date(row.started_at).toISOString(),
    duration_ms: row.duration_ms,
    status_code: row.status_code,
    error_kind: row.error_kind,
    error: row.error,
    request_headers: JSON.parse(row.request_headers) as Record<string, string>,
    response_excerpt: row.response_excerpt,
  };
}
