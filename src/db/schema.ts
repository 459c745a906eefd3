import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/*
 * Table types shared by every dialect. Times are milliseconds since the Unix epoch in
 * BIGINT columns and flags are 0 or 1 in INTEGER columns, so SQLite and PostgreSQL store
 * and compare them the same way. JSON columns hold serialised text.
 */

export type Role = 'Admin' | 'Engineer' | 'Approver';

export interface UsersTable {
  id: string;
  email: string;
  password_hash: string;
  role: Role;
  is_active: number;
  created_at: number;
}

export type TokenScope = 'full' | 'publish';

export interface ApiTokensTable {
  id: string;
  user_id: string;
  /** SHA-256 of the token, hex; the token itself is never stored. */
  token_hash: string;
  /** `full` acts as the user; `publish` may only publish events. */
  scope: Generated<TokenScope>;
  /** A label for tokens created through the API, e.g. the publishing application. */
  name: string | null;
  expires_at: number;
  created_at: number;
}

export interface SessionsTable {
  /** SHA-256 of the session cookie's value, hex; the value itself is never stored. */
  id: string;
  user_id: string;
  /** Sent back by the browser in the x-csrf-token header of every unsafe request. */
  csrf_token: string;
  created_at: number;
  expires_at: number;
}

export interface WebhooksTable {
  id: string;
  name: string;
  url: string;
  /** JSON array of event type names. */
  event_types: string;
  /** JSON object of custom header names to values. */
  headers: string;
  secret: string;
  is_active: number;
  /** 1 when redirects are followed (up to three hops, each checked), else 0. */
  follow_redirects: number;
  created_by: string;
  created_at: number;
  updated_at: number;
  last_triggered: number | null;
  trigger_count: Generated<number>;
  /** Attempts in flight at once for this webhook; null takes the configured default. */
  max_in_flight: number | null;
  /** Requests per second; null means no limit beyond max_in_flight. */
  rate_limit: number | null;
  /** 1 sends deliveries one at a time in event order. */
  is_ordered: Generated<number>;
  /** Time of the first failed attempt since the last success; null after a success. */
  failing_since: number | null;
  disabled_reason: string | null;
  disabled_at: number | null;
  /** The secret replaced by the last rotation, still signed with until the time below. */
  previous_secret: string | null;
  previous_secret_expires_at: number | null;
}

export type ReportStatus = 'DRAFT' | 'PENDING' | 'APPROVED' | 'REJECTED' | 'COMPLETED';

export interface ReportsTable {
  id: string;
  type: string;
  title: string;
  reference: string;
  client: string;
  status: ReportStatus;
  /** Number of approval stages passed so far. */
  approved_stages: number;
  created_by: string;
  submitted_by: string | null;
  rejection_reason: string | null;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
}

export interface EventsTable {
  id: string;
  type: string;
  /** The exact JSON body that receivers get; signatures are computed over this text. */
  payload: string;
  request_id: string | null;
  created_at: number;
}

/** `skipped`: the event occurred while the webhook was inactive; recovery can send it. */
export type DeliveryStatus = 'pending' | 'delivering' | 'succeeded' | 'failed' | 'skipped';

export interface DeliveriesTable {
  id: string;
  event_id: string;
  webhook_id: string;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: number;
  /** While delivering: the time after which another claim may take the delivery over. */
  lease_until: number | null;
  /** While delivering: the worker that holds the lease; only it may write the result. */
  lease_owner: string | null;
  last_status_code: number | null;
  last_error: string | null;
  /** What caused the next attempt: the retry schedule, or an operator's redelivery. */
  next_trigger: Generated<AttemptTrigger>;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
}

export type AttemptTrigger = 'automatic' | 'manual' | 'test';

export interface DeliveryAttemptsTable {
  id: string;
  delivery_id: string;
  webhook_id: string;
  attempt_number: number;
  trigger: AttemptTrigger;
  started_at: number;
  duration_ms: number;
  status_code: number | null;
  /** Stage and reason of a failure, e.g. `timeout`; null on success. */
  error_kind: string | null;
  error: string | null;
  /** JSON object of the headers sent, with custom header values and signatures masked. */
  request_headers: string;
  response_excerpt: string | null;
}

export interface EventTypesTable {
  name: string;
  description: string;
  /** JSON Schema of the event's `data` object, as JSON text. */
  schema: string;
  /** An example `data` object, as JSON text. */
  example: string;
  created_by: string;
  created_at: number;
}

/** A publish request's Idempotency-Key, so a retried publish returns the first event. */
export interface IdempotencyKeysTable {
  /** The user the publishing token belongs to; keys are scoped per user. */
  owner: string;
  key: string;
  /** SHA-256 of the request body; the same key with another body is a conflict. */
  request_hash: string;
  event_id: string;
  created_at: number;
}

/** Failed sign-ins counted for one email or one client address. */
export interface LoginFailuresTable {
  /** SHA-256, in hex, of `email:` and the email in lower case, or `address:` and the client address. */
  key: string;
  failures: number;
  first_failure_at: number;
  /** Time until which sign-ins for the key are refused; 0 or past when not locked out. */
  locked_until: number;
}

export interface Database {
  users: UsersTable;
  api_tokens: ApiTokensTable;
  sessions: SessionsTable;
  webhooks: WebhooksTable;
  reports: ReportsTable;
  events: EventsTable;
  deliveries: DeliveriesTable;
  delivery_attempts: DeliveryAttemptsTable;
  event_types: EventTypesTable;
  idempotency_keys: IdempotencyKeysTable;
  login_failures: LoginFailuresTable;
}

export type UserRow = Selectable<UsersTable>;
export type WebhookRow = Selectable<WebhooksTable>;
export type NewWebhookRow = Insertable<WebhooksTable>;
export type WebhookUpdate = Updateable<WebhooksTable>;
export type ReportRow = Selectable<ReportsTable>;
export type EventRow = Selectable<EventsTable>;
export type DeliveryRow = Selectable<DeliveriesTable>;
export type AttemptRow = Selectable<DeliveryAttemptsTable>;
