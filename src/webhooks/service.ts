import type { Db } from '../db/database.js';
import type { WebhookRow } from '../db/schema.js';
import { generateSecret } from '../delivery/signature.js';
import { IS_PENDING } from '../delivery/queue-terms.js';
import type { DeliverySender } from '../delivery/sender.js';
import { sendTargetOf } from '../delivery/targets.js';
import { AppError, invalid, notFound } from '../errors.js';
import { REPORT_EVENT_TYPES } from '../events/catalog.js';
import type { EventTypeRegistry } from '../events/registry.js';
import { newId } from '../ids.js';
import type { DestinationChecker } from '../outbound/checker.js';
import { requireLine } from '../text.js';
import { validateCustomHeaders } from './headers.js';
import { EMPTY_STATS, loadWebhookStats, type WebhookStats } from './stats.js';
import { recordTestAttempt } from './test-record.js';

export const HEADER_VALUE_MASK = '********';
const MAX_NAME_LENGTH = 200;
const TEST_EXCERPT_CHARS = 1024;

export interface WebhookInput {
  name: string;
  url: string;
  event_types: string[];
  headers?: Record<string, string>;
  is_active?: boolean;
  follow_redirects?: boolean;
  max_in_flight?: number | null;
  rate_limit?: number | null;
  ordered?: boolean;
}

/** A partial update. In `headers`, a string sets a header and null removes it. */
export interface WebhookPatch {
  name?: string;
  url?: string;
  event_types?: string[];
  headers?: Record<string, string | null>;
  is_active?: boolean;
  follow_redirects?: boolean;
  max_in_flight?: number | null;
  rate_limit?: number | null;
  ordered?: boolean;
}

export interface PublicWebhook extends WebhookStats {
  id: string;
  name: string;
  url: string;
  event_types: string[];
  /** Custom header names; values are masked because they usually hold credentials. */
  headers: Record<string, string>;
  is_active: boolean;
  /** Whether redirects are followed, up to MAX_REDIRECTS hops, each checked like the URL. */
  follow_redirects: boolean;
  max_in_flight: number | null;
  rate_limit: number | null;
  ordered: boolean;
  /** Start of the current run of failed attempts; null after a success. */
  failing_since: string | null;
  disabled_reason: string | null;
  disabled_at: string | null;
  /** End of the rotation overlap during which the previous secret also signs. */
  previous_secret_expires_at: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
  last_triggered: string | null;
  trigger_count: number;
}

export interface TestResult {
  success: boolean;
  status_code: number | null;
  duration_ms: number;
  response_excerpt: string | null;
  error: string | null;
  error_kind: string | null;
  /** URLs of the redirects followed, in order. */
  redirects: string[];
  event_type: string;
  /** The delivery that records this test call and its attempt. */
  delivery_id: string;
}

export interface WebhookServiceOptions {
  readonly destinations: DestinationChecker;
  readonly sender: DeliverySender;
  readonly registry: EventTypeRegistry;
  /** How long a replaced secret keeps signing next to the new one. */
  readonly secretOverlapMs: number;
  /** Called after any change, so the delivery worker refreshes its view of endpoints. */
  readonly onChange: () => void;
  readonly now?: () => number;
}

export function toPublicWebhook(row: WebhookRow, stats: WebhookStats = EMPTY_STATS): PublicWebhook {
  const headers = JSON.parse(row.headers) as Record<string, string>;
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    event_types: JSON.parse(row.event_types) as string[],
    headers: Object.fromEntries(Object.keys(headers).map((name) => [name, HEADER_VALUE_MASK])),
    is_active: row.is_active === 1,
    follow_redirects: row.follow_redirects === 1,
    max_in_flight: row.max_in_flight,
    rate_limit: row.rate_limit,
    ordered: row.is_ordered === 1,
    failing_since: iso(row.failing_since),
    disabled_reason: row.disabled_reason,
    disabled_at: iso(row.disabled_at),
    previous_secret_expires_at: iso(row.previous_secret_expires_at),
    created_by: row.created_by,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
    last_triggered: iso(row.last_triggered),
    trigger_count: row.trigger_count,
    ...stats,
  };
}

/** Management of webhook endpoints: validation, storage, secrets and the test call. */
export class WebhookService {
  readonly #now: () => number;

  constructor(
    private readonly db: Db,
    private readonly options: WebhookServiceOptions,
  ) {
    this.#now = options.now ?? Date.now;
  }

  async list(): Promise<PublicWebhook[]> {
    const rows = await this.db.selectFrom('webhooks').selectAll().orderBy('id').execute();
    const stats = await loadWebhookStats(this.db, rows.map((row) => row.id), this.#now());
    return rows.map((row) => toPublicWebhook(row, stats.get(row.id)));
  }

  async get(id: string): Promise<PublicWebhook> {
    return this.#withStats(await this.#load(id));
  }

  async create(input: WebhookInput, createdBy: string): Promise<PublicWebhook & { secret: string }> {
    const now = this.#now();
    const row: WebhookRow = {
      id: newId('wh'),
      name: checkName(input.name),
      url: await this.options.destinations.check(input.url),
      event_types: JSON.stringify(await this.#checkEventTypes(input.event_types)),
      headers: JSON.stringify(validateCustomHeaders(input.headers ?? {})),
      secret: generateSecret(),
      is_active: input.is_active === false ? 0 : 1,
      follow_redirects: input.follow_redirects === true ? 1 : 0,
      created_by: createdBy,
      created_at: now,
      updated_at: now,
      last_triggered: null,
      trigger_count: 0,
      max_in_flight: input.max_in_flight ?? null,
      rate_limit: input.rate_limit ?? null,
      is_ordered: input.ordered === true ? 1 : 0,
      failing_since: null,
      disabled_reason: null,
      disabled_at: null,
      previous_secret: null,
      previous_secret_expires_at: null,
    };
    await this.db.insertInto('webhooks').values(row).execute();
    this.options.onChange();
    return { ...toPublicWebhook(row), secret: row.secret };
  }

  /** Applies a partial update; with `replaceHeaders` the given headers replace all others. */
  async update(id: string, patch: WebhookPatch, replaceHeaders = false): Promise<PublicWebhook> {
    const current = await this.#load(id);
    const changes: Partial<WebhookRow> = { updated_at: this.#now() };

    if (patch.name !== undefined) changes.name = checkName(patch.name);
    if (patch.url !== undefined) changes.url = await this.options.destinations.check(patch.url);
    if (patch.event_types !== undefined) {
      changes.event_types = JSON.stringify(await this.#checkEventTypes(patch.event_types));
    }
    if (patch.follow_redirects !== undefined) changes.follow_redirects = patch.follow_redirects ? 1 : 0;
    if (patch.is_active !== undefined) Object.assign(changes, activation(patch.is_active));
    if (patch.max_in_flight !== undefined) changes.max_in_flight = patch.max_in_flight;
    if (patch.rate_limit !== undefined) changes.rate_limit = patch.rate_limit;
    if (patch.ordered !== undefined) changes.is_ordered = patch.ordered ? 1 : 0;
    if (patch.headers !== undefined) {
      // Checked alone first, so that two names in the patch that differ only in case are
      // refused rather than one silently replacing the other.
      validateCustomHeaders(
        Object.fromEntries(Object.entries(patch.headers).filter(([, value]) => value !== null)),
      );
      const merged: Record<string, string | null> = replaceHeaders
        ? {}
        : (JSON.parse(current.headers) as Record<string, string>);
      for (const [name, value] of Object.entries(patch.headers)) {
        const existing = Object.keys(merged).find((key) => key.toLowerCase() === name.toLowerCase());
        if (existing !== undefined) delete merged[existing];
        if (value !== null) merged[name] = value;
      }
      changes.headers = JSON.stringify(validateCustomHeaders(merged));
    }

    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('webhooks').set(changes).where('id', '=', id).execute();
      if (changes.is_active === 0 && current.is_active === 1) {
        // Recovery sends these once the webhook is active again.
        await trx
          .updateTable('deliveries')
          .set({ status: 'skipped', completed_at: changes.updated_at, updated_at: changes.updated_at })
          .where('webhook_id', '=', id)
          .where(IS_PENDING)
          .execute();
      }
    });
    this.options.onChange();
    return this.#withStats({ ...current, ...changes });
  }

  async remove(id: string): Promise<void> {
    const result = await this.db.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound('webhook', id);
    this.options.onChange();
  }

  async revealSecret(id: string): Promise<string> {
    return (await this.#load(id)).secret;
  }

  /**
   * Replaces the signing secret at once. For `overlapMs` (the configured overlap unless
   * given) each request also carries a signature made with the replaced secret, so
   * receivers can switch secrets without rejecting a request.
   */
  async rotateSecret(
    id: string,
    overlapMs = this.options.secretOverlapMs,
  ): Promise<PublicWebhook & { secret: string }> {
    const current = await this.#load(id);
    const now = this.#now();
    const changes = {
      secret: generateSecret(),
      previous_secret: overlapMs > 0 ? current.secret : null,
      previous_secret_expires_at: overlapMs > 0 ? now + overlapMs : null,
      updated_at: now,
    };
    await this.db.updateTable('webhooks').set(changes).where('id', '=', id).execute();
    this.options.onChange();
    return { ...toPublicWebhook({ ...current, ...changes }), secret: changes.secret };
  }

  /**
   * Sends the example payload of the webhook's first event type now, signed like a real
   * delivery but with a fresh message id, records it as a delivery with one attempt of
   * trigger `test`, and returns what the receiver answered.
   */
  async test(id: string): Promise<TestResult> {
    const row = await this.#load(id);
    const eventType = (JSON.parse(row.event_types) as string[])[0] ?? REPORT_EVENT_TYPES[0];
    const example = (await this.options.registry.example(eventType)) ?? {};
    const messageId = newId('evt');
    const now = this.#now();
    const body = JSON.stringify({ ...example, id: messageId, timestamp: new Date(now).toISOString(), test: true });

    const outcome = await this.options.sender.send(sendTargetOf(row, now), messageId, body);
    const { result } = outcome;
    const deliveryId = await recordTestAttempt(this.db, {
      webhookId: row.id,
      eventId: messageId,
      eventType,
      body,
      outcome,
      finishedAt: this.#now(),
    });
    return {
      success: result.failure === undefined,
      status_code: result.statusCode,
      duration_ms: result.durationMs,
      response_excerpt: result.excerpt === null ? null : result.excerpt.slice(0, TEST_EXCERPT_CHARS),
      error: result.failure?.message ?? null,
      error_kind: result.failure?.kind ?? null,
      redirects: [...result.redirects],
      event_type: eventType,
      delivery_id: deliveryId,
    };
  }

  async #withStats(row: WebhookRow): Promise<PublicWebhook> {
    const stats = await loadWebhookStats(this.db, [row.id], this.#now());
    return toPublicWebhook(row, stats.get(row.id));
  }

  async #checkEventTypes(types: readonly string[]): Promise<string[]> {
    if (types.length === 0) {
      throw invalid('event_types', `list at least one event type, e.g. ${REPORT_EVENT_TYPES.join(', ')}.`);
    }
    const unique = [...new Set(types)];
    const unknown = await this.options.registry.unknownNames(unique);
    if (unknown.length > 0) {
      throw new AppError(
        'invalid_request',
        `"${unknown[0]}" is not an event type; see GET /api/v1/event-types for the catalog.`,
        'event_types',
      );
    }
    return unique;
  }

  async #load(id: string): Promise<WebhookRow> {
    const row = await this.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound('webhook', id);
    return row;
  }
}

function checkName(name: string): string {
  return requireLine(name, 'name', MAX_NAME_LENGTH);
}

/** Activating clears the auto-disable record, so the failure streak starts afresh. */
function activation(active: boolean): Partial<WebhookRow> {
  if (!active) return { is_active: 0 };
  return { is_active: 1, disabled_reason: null, disabled_at: null, failing_since: null };
}
