import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Role } from '../db/schema.js';
import { AppError } from '../errors.js';
import type { App } from '../http/server.js';
import type { AuthService, Principal } from './service.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Roles allowed to call the route; absent means the route is public. */
    roles?: readonly Role[];
    /** True where publish-only tokens are accepted. */
    publish?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export const ALL_ROLES: readonly Role[] = ['Admin', 'Engineer', 'Approver'];

/**
 * Authenticates every route that declares `config.roles`: no valid bearer token is a 401,
 * a role outside the list is a 403. It runs before the body is parsed, so an anonymous
 * caller learns nothing about validation.
 */
export function registerAuthGuard(app: App, auth: AuthService): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const roles = request.routeOptions.config.roles;
    if (roles === undefined) return;

    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    const principal = match?.[1] ? await auth.authenticate(match[1]) : undefined;
    if (!principal) {
      void reply.header('www-authenticate', 'Bearer');
      throw new AppError(
        'unauthorized',
        'A valid bearer token is required; get one from POST /api/v1/auth/token.',
      );
    }

    request.principal = principal;
    request.log = request.log.child({ user_id: principal.id, role: principal.role });
    reply.log = request.log;
    if (principal.scope === 'publish' && request.routeOptions.config.publish !== true) {
      throw new AppError('forbidden', 'This token may only publish events with POST /api/v1/events.');
    }
    if (!roles.includes(principal.role)) {
      throw new AppError('forbidden', `This action needs the role ${roles.join(' or ')}; you are ${principal.role}.`);
    }
  });
}

/** The caller of a route that declares roles; the guard has already checked it exists. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new AppError('unauthorized', 'A valid bearer token is required.');
  return request.principal;
}
