import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';

export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method.toUpperCase());
}

/**
 * Returns the service's own origin: the configured public origin, or else the one the
 * request addressed, e.g. `http://127.0.0.1:3000`.
 */
export function ownOrigin(request: FastifyRequest, publicOrigin: string | undefined): string {
  return publicOrigin ?? `${request.protocol}://${request.host}`;
}

/**
 * Rejects a request whose Origin (or, without one, Referer) is not the service's own. A
 * request with neither header passes this check, and the CSRF token check then decides.
 */
export function assertSameOrigin(request: FastifyRequest, publicOrigin: string | undefined): void {
  const expected = ownOrigin(request, publicOrigin);
  const origin = request.headers.origin;
  if (typeof origin === 'string') {
    if (origin !== expected) {
      throw new AppError(
        'csrf_failed',
        `Cross-site request rejected: Origin ${origin} is not ${expected}.`,
      );
    }
    return;
  }

  const referer = request.headers.referer;
  if (typeof referer !== 'string') return;
  let refererOrigin: string;
  try {
    refererOrigin = new URL(referer).origin;
  } catch {
    throw new AppError(
      'csrf_failed',
      'Cross-site request rejected: the Referer header is not a URL.',
    );
  }
  if (refererOrigin !== expected) {
    throw new AppError(
      'csrf_failed',
      `Cross-site request rejected: Referer ${refererOrigin} is not ${expected}.`,
    );
  }
}

/** Checks the session's CSRF token in the x-csrf-token header, in constant time. */
export function assertCsrfToken(request: FastifyRequest, expected: string): void {
  const header = request.headers[CSRF_HEADER];
  const received = Buffer.from(typeof header === 'string' ? header : '');
  const stored = Buffer.from(expected);
  if (received.length !== stored.length || !timingSafeEqual(received, stored)) {
    throw new AppError(
      'csrf_failed',
      `The ${CSRF_HEADER} header is missing or wrong; reload the page to get the current token.`,
    );
  }
}
