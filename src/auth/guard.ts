import cookie from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Role } from '../db/schema.js';
import { AppError } from '../errors.js';
import type { App } from '../http/server.js';
import { bindLogFields } from '../observability/request-log.js';
import { assertCsrfToken, assertSameOrigin, isSafeMethod } from './csrf.js';
import type { AuthService, Principal } from './service.js';
import type { ActiveSession, SessionService } from './sessions.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Roles allowed to call the route; absent means the route is public. */
    roles?: readonly Role[];
    /** True where publish-only tokens are accepted. */
    publish?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
    /** The browser session that authenticated the request; null for bearer tokens. */
    browserSession: ActiveSession | null;
  }
}

export const ALL_ROLES: readonly Role[] = ['Admin', 'Engineer', 'Approver'];
export const SESSION_COOKIE = 'rw_session';

/**
 * Authenticates every route that declares `config.roles`, by bearer token or by session
 * cookie: neither is a 401, a role outside the list a 403. A cookie-authenticated request
 * with an unsafe method must also come from this origin and carry the session's CSRF token.
 * Bearer tokens need neither, because browsers never attach them on their own. The hook
 * runs before the body is parsed, so an anonymous caller learns nothing about validation.
 */
export interface AuthGuardOptions {
  readonly auth: AuthService;
  readonly sessions: SessionService;
  /** The origin that unsafe cookie-authenticated requests must come from; see ownOrigin. */
  readonly publicOrigin: string | undefined;
}

export async function registerAuthGuard(app: App, options: AuthGuardOptions): Promise<void> {
  const { auth, sessions, publicOrigin } = options;
  await app.register(cookie);
  app.decorateRequest('principal', null);
  app.decorateRequest('browserSession', null);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    // Read once, because Fastify's routeOptions getter builds a new object on every read.
    const route = request.routeOptions.config;
    const roles = route.roles;
    if (roles === undefined) return;

    const principal = await authenticate(request, auth, sessions);
    if (!principal) {
      void reply.header('www-authenticate', 'Bearer');
      throw new AppError(
        'unauthorized',
        'Sign in, or send a bearer token from POST /api/v1/auth/token.',
      );
    }

    request.principal = principal;
    bindLogFields(request, { user_id: principal.id, role: principal.role });
    if (request.browserSession && !isSafeMethod(request.method)) {
      try {
        assertSameOrigin(request, publicOrigin);
        assertCsrfToken(request, request.browserSession.csrfToken);
      } catch (error) {
        request.log.warn(
          { origin: request.headers.origin ?? null, reason: (error as Error).message },
          'cross-site request rejected',
        );
        throw error;
      }
    }
    if (principal.scope === 'publish' && route.publish !== true) {
      throw new AppError('forbidden', 'This token may only publish events with POST /api/v1/events.');
    }
    if (!roles.includes(principal.role)) {
      throw new AppError(
        'forbidden',
        `This action needs the role ${roles.join(' or ')}; you are ${principal.role}.`,
      );
    }
  });
}

/** Authenticates by bearer token if one is sent, else by session cookie; neither is anonymous. */
async function authenticate(
  request: FastifyRequest,
  auth: AuthService,
  sessions: SessionService,
): Promise<Principal | undefined> {
  const header = request.headers.authorization;
  if (typeof header === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match?.[1] ? auth.authenticate(match[1]) : undefined;
  }

  const token = request.cookies[SESSION_COOKIE];
  if (token === undefined) return undefined;
  const session = await sessions.find(token);
  if (!session) return undefined;
  request.browserSession = session;
  return session.principal;
}

/** Returns the caller of a route that declares roles, which the guard has already checked. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null)
    throw new AppError('unauthorized', 'A valid bearer token is required.');
  return request.principal;
}
