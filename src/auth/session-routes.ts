import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App } from '../http/server.js';
import { ErrorBody, Timestamp } from '../http/schemas.js';
import { assertCsrfToken, assertSameOrigin, ownOrigin } from './csrf.js';
import { ALL_ROLES, principalOf, SESSION_COOKIE, type AuthGuardOptions } from './guard.js';
import { RoleSchema } from './routes.js';

const SessionSchema = Type.Object({
  user: Type.Object({ id: Type.String(), email: Type.String(), role: RoleSchema }),
  csrf_token: Type.Union([Type.String(), Type.Null()], {
    description:
      'Send in the x-csrf-token header of every POST, PUT, PATCH and DELETE. ' +
      'Null for bearer tokens.',
  }),
  expires_at: Type.Union([Timestamp, Type.Null()]),
});

const Credentials = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: 320 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);

/** Browser sign-in: a session cookie that is HttpOnly, SameSite=Lax and Secure over HTTPS. */
export function registerSessionRoutes(app: App, options: AuthGuardOptions): void {
  const { auth, sessions, publicOrigin } = options;
  app.post(
    '/api/v1/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign in a browser: sets the session cookie and returns the CSRF token',
        body: Credentials,
        response: {
          200: SessionSchema,
          400: ErrorBody,
          401: ErrorBody,
          403: ErrorBody,
          429: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      assertSameOrigin(request, publicOrigin);
      const user = await auth.verifyCredentials(
        request.body.email,
        request.body.password,
        request.ip,
      );
      const started = await sessions.start(user.id, request.cookies[SESSION_COOKIE]);
      setSessionCookie(reply, started.token, started.expiresAt, isHttps(request, publicOrigin));
      request.log.info({ user_id: user.id }, 'browser session started');
      return {
        user,
        csrf_token: started.csrfToken,
        expires_at: new Date(started.expiresAt).toISOString(),
      };
    },
  );

  app.post(
    '/api/v1/auth/logout',
    {
      schema: {
        tags: ['auth'],
        summary: 'End the browser session and clear its cookie',
        response: { 204: Type.Null(), 403: ErrorBody },
      },
    },
    async (request, reply) => {
      const token = request.cookies[SESSION_COOKIE];
      const session = token === undefined ? undefined : await sessions.find(token);
      if (token !== undefined && session) {
        assertSameOrigin(request, publicOrigin);
        assertCsrfToken(request, session.csrfToken);
        await sessions.end(token);
        request.log.info({ user_id: session.principal.id }, 'browser session ended');
      }
      void reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/auth/session',
    {
      config: { roles: ALL_ROLES },
      schema: {
        tags: ['auth'],
        summary: 'The signed-in user and the CSRF token of the browser session',
        response: { 200: SessionSchema, 401: ErrorBody },
      },
    },
    async (request) => {
      const session = request.browserSession;
      return {
        user: principalOf(request),
        csrf_token: session?.csrfToken ?? null,
        expires_at: session ? new Date(session.expiresAt).toISOString() : null,
      };
    },
  );
}

/** Tells whether browsers reach the service over HTTPS, directly or through a TLS proxy. */
function isHttps(request: FastifyRequest, publicOrigin: string | undefined): boolean {
  return ownOrigin(request, publicOrigin).startsWith('https:');
}

function setSessionCookie(
  reply: FastifyReply,
  token: string,
  expiresAt: number,
  secure: boolean,
): void {
  void reply.setCookie(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure,
    expires: new Date(expiresAt),
  });
}
