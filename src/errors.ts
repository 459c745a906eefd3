/**
 * Every error code the API returns, with its HTTP status. Clients branch on `code`; the
 * message is for people and may change.
 */
export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_json: 400,
  blocked_destination: 400,
  unauthorized: 401,
  forbidden: 403,
  csrf_failed: 403,
  not_found: 404,
  invalid_transition: 409,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  internal_error: 500,
  overloaded: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** An error with a stable public shape: `{ code, message, field? }`. */
export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    /** Seconds after which a retry may succeed, sent as Retry-After. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERROR_STATUS[code];
  }
}

export function invalid(field: string, message: string): AppError {
  return new AppError('invalid_request', message, field);
}

export function notFound(what: string, id: string): AppError {
  return new AppError('not_found', `${what} ${id} was not found.`);
}
