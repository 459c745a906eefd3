import type { Db } from '../db/database.js';
import type { WebhookRow } from '../db/schema.js';
import { secretKey, generateSecret } from '../delivery/signature.js';
import type { DeliverySender } from '../delivery/sender.js';
import { AppError, invalid, notFound } from '../errors.js';
import { eventTypeInfo, isEventType, REPORT_EVENT_TYPES, type ReportEventType } from '../events/catalog.js';
import { newId } from '../ids.js';
import type { DestinationChecker } from '../outbound/checker.js';
import { validateCustomHeaders } from './headers.js';
import { EMPTY_STATS, loadWebhookStats, type WebhookStats } from './stats.js';

export const HEADER_VALUE_MASK = '********';
const MAX_NAME_LENGTH = 200;
const TEST_EXCERPT_CHARS = 1024;

export interface WebhookInput {
  name: string;
  url: string;
  event_types: string[];
  headers?: Record<string, string>;
  is_active?: boolean;
}

/** A partial update. In `headers`, a string sets a header and null removes it. */
export interface WebhookPatch {
  name?: string;
  url?: string;
  event_types?: string[];
  headers?: Record<string, string | null>;
  is_active?: boolean;
}

export interface PublicWebhook extends WebhookStats {
  id: string;
  name: string;
  url: string;
  event_types: ReportEventType[];
  /** Custom header names; values are masked because they usually hold credentials. */
  headers: Record<string, string>;
  is_active: boolean;
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
  event_type: ReportEventType;
}

export interface WebhookServiceOptions {
  readonly destinations: DestinationChecker;
  readonly sender: DeliverySender;
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
    event_types: JSON.parse(row.event_types) as ReportEventType[],
    headers: Object.fromEntries(Object.keys(headers).map((name) => [name, HEADER_VALUE_MASK])),
    is_active: row.is_active === 1,
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
      event_types: JSON.stringify(checkEventTypes(input.event_types)),
      headers: JSON.stringify(validateCustomHeaders(input.headers ?? {})),
      secret: generateSecret(),
      is_active: input.is_active === false ? 0 : 1,
      created_by: createdBy,
      created_at: now,
      updated_at: now,
      last_triggered: null,
      trigger_count: 0,
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
      changes.event_types = JSON.stringify(checkEventTypes(patch.event_types));
    }
    if (patch.is_active !== undefined) changes.is_active = patch.is_active ? 1 : 0;
    if (patch.headers !== undefined) {
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

    await this.db.updateTable('webhooks').set(changes).where('id', '=', id).execute();
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
   * Sends the example payload of the webhook's first event type now, signed like a real
   * delivery but with a fresh message id, and returns what the receiver answered.
   */
  async test(id: string): Promise<TestResult> {
    const row = await this.#load(id);
    const eventTypes = JSON.parse(row.event_types) as ReportEventType[];
    const eventType = eventTypes[0] ?? REPORT_EVENT_TYPES[0];
    const messageId = newId('evt');
    const body = JSON.stringify({
      ...eventTypeInfo(eventType).example,
      id: messageId,
      timestamp: new Date(this.#now()).toISOString(),
      test: true,
    });

    const { result } = await this.options.sender.send(
      {
        id: row.id,
        url: new URL(row.url),
        headers: JSON.parse(row.headers) as Record<string, string>,
        key: secretKey(row.secret),
      },
      messageId,
      body,
    );
    return {
      success: result.failure === undefined,
      status_code: result.statusCode,
      duration_ms: result.durationMs,
      response_excerpt: result.excerpt === null ? null : result.excerpt.slice(0, TEST_EXCERPT_CHARS),
      error: result.failure?.message ?? null,
      error_kind: result.failure?.kind ?? null,
      event_type: eventType,
    };
  }

  async #withStats(row: WebhookRow): Promise<PublicWebhook> {
    const stats = await loadWebhookStats(this.db, [row.id], this.#now());
    return toPublicWebhook(row, stats.get(row.id));
  }

  async #load(id: string): Promise<WebhookRow> {
    const row = await this.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound('webhook', id);
    return row;
  }
}

function checkName(name: string): string {
  const text = name.trim();
  if (text === '') throw invalid('name', 'name must not be empty.');
  if (text.length > MAX_NAME_LENGTH) {
    throw invalid('name', `name must be at most ${MAX_NAME_LENGTH} characters long.`);
  }
  return text;
}

function checkEventTypes(types: readonly string[]): ReportEventType[] {
  if (types.length === 0) {
    throw invalid('event_types', `list at least one event type: ${REPORT_EVENT_TYPES.join(', ')}.`);
  }
  const unique: ReportEventType[] = [];
  for (const type of types) {
    if (!isEventType(type)) {
      throw new AppError(
        'invalid_request',
        `"${type}" is not an event type; choose from ${REPORT_EVENT_TYPES.join(', ')}.`,
        'event_types',
      );
    }
    if (!unique.includes(type)) unique.push(type);
  }
  return unique;
}
