/** Types and a fetch client for the service's JSON API under /api/v1. */

export type Role = 'Admin' | 'Engineer' | 'Approver';

export interface User {
  id: string;
  email: string;
  role: Role;
}

export interface ManagedUser extends User {
  is_active: boolean;
  created_at: string;
}

export interface Session {
  user: User;
  csrf_token: string | null;
  expires_at: string | null;
}

export interface LastAttempt {
  at: string;
  succeeded: boolean;
  status_code: number | null;
  error_kind: string | null;
}

export interface Webhook {
  id: string;
  name: string;
  url: string;
  event_types: string[];
  headers: Record<string, string>;
  is_active: boolean;
  created_by: string;
  created_at: string;
  updated_at: string;
  last_triggered: string | null;
  trigger_count: number;
  success_rate_24h: number | null;
  attempts_24h: number;
  last_attempt: LastAttempt | null;
}

export interface EventType {
  name: string;
  description: string;
}

export interface TestResult {
  success: boolean;
  status_code: number | null;
  duration_ms: number;
  response_excerpt: string | null;
  error: string | null;
  error_kind: string | null;
  event_type: string;
  /** The delivery that records the test call in the webhook's delivery log. */
  delivery_id: string;
}

export type DeliveryStatus = 'pending' | 'delivering' | 'succeeded' | 'failed';

export interface Delivery {
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
}

export interface Attempt {
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

export interface DeliveryDetail extends Delivery {
  payload: unknown;
  attempts: Attempt[];
}

export type ReportStatus = 'DRAFT' | 'PENDING' | 'APPROVED' | 'REJECTED' | 'COMPLETED';

export interface Report {
  id: string;
  type: string;
  title: string;
  reference: string;
  client: string;
  status: ReportStatus;
  approved_stages: number;
  approval_stages: number;
  created_by: string;
  submitted_by: string | null;
  rejection_reason: string | null;
  created_at: string;
}

/** An error response of the API: `{code, message, field?}` plus the HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const LOGIN_API = '/api/v1/auth/login';
let csrfToken: string | null = null;

/** Stores the session's CSRF token, which every unsafe request carries in x-csrf-token. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Sends a request with the session cookie and throws an error response as ApiError. */
export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken !== null) headers['x-csrf-token'] = csrfToken;

  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(
      0,
      'network_error',
      'The service could not be reached; check your connection and retry.',
    );
  }

  const text = await response.text();
  const parsed: unknown = text === '' ? null : safeParse(text);
  if (response.status === 401 && path !== LOGIN_API) {
    // The session expired or was ended elsewhere: sign in again and come back here.
    const here = window.location.pathname + window.location.search;
    window.location.assign(`/console/login?next=${encodeURIComponent(here)}`);
  }
  if (!response.ok) {
    const error = (parsed ?? {}) as { code?: string; message?: string; field?: string };
    throw new ApiError(
      response.status,
      error.code ?? 'http_error',
      error.message ?? `The request failed with status ${response.status}.`,
      error.field,
    );
  }
  return parsed as T;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 300) };
  }
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, body),
  delete: (path: string) => request<null>('DELETE', path),
};
