import { Type } from 'typebox';
import type { App } from '../http/server.js';
import { notFound } from '../errors.js';
import { ErrorBody, errorResponses, IdParams, Timestamp } from '../http/schemas.js';
import { ALL_ROLES, principalOf } from './guard.js';
import type { AuthService } from './service.js';

export const RoleSchema = Type.Union([
  Type.Literal('Admin'),
  Type.Literal('Engineer'),
  Type.Literal('Approver'),
]);

const UserSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: RoleSchema,
  is_active: Type.Boolean(),
  created_at: Timestamp,
});

export function registerAuthRoutes(app: App, auth: AuthService): void {
  app.post(
    '/api/v1/auth/token',
    {
      schema: {
        tags: ['auth'],
        summary: 'Exchange an email and password for a bearer token',
        body: Type.Object(
          {
            email: Type.String({ minLength: 1, maxLength: 320 }),
            password: Type.String({ minLength: 1, maxLength: 1024 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ token: Type.String(), expires_at: Timestamp }),
          400: ErrorBody,
          401: ErrorBody,
          429: ErrorBody,
        },
      },
    },
    async (request) => {
      const issued = await auth.issueToken(request.body.email, request.body.password, request.ip);
      request.log.info({ email_domain: request.body.email.split('@')[1] }, 'token issued');
      return issued;
    },
  );

  app.post(
    '/api/v1/users',
    {
      config: { roles: ['Admin'] },
      schema: {
        tags: ['users'],
        summary: 'Create a user',
        security: [{ bearer: [] }],
        body: Type.Object(
          {
            email: Type.String({ minLength: 1, maxLength: 320 }),
            password: Type.String({ minLength: 1, maxLength: 1024 }),
            role: RoleSchema,
          },
          { additionalProperties: false },
        ),
        response: { 201: UserSchema, 409: ErrorBody, ...errorResponses },
      },
    },
    async (request, reply) => {
      const user = await auth.createUser(request.body);
      request.log.info({ new_user_id: user.id, new_user_role: user.role }, 'user created');
      return reply.code(201).send(user);
    },
  );

  app.get(
    '/api/v1/users',
    {
      config: { roles: ['Admin'] },
      schema: {
        tags: ['users'],
        summary: 'List users',
        security: [{ bearer: [] }],
        response: { 200: Type.Object({ data: Type.Array(UserSchema) }), ...errorResponses },
      },
    },
    async () => ({ data: await auth.listUsers() }),
  );

  app.patch(
    '/api/v1/users/:id',
    {
      config: { roles: ['Admin'] },
      schema: {
        tags: ['users'],
        summary: 'Change the role of a user or deactivate them; the last active Admin stays',
        security: [{ bearer: [] }],
        params: IdParams,
        body: Type.Object(
          { role: Type.Optional(RoleSchema), is_active: Type.Optional(Type.Boolean()) },
          { additionalProperties: false },
        ),
        response: { 200: UserSchema, 409: ErrorBody, ...errorResponses },
      },
    },
    async (request) => {
      const user = await auth.updateUser(request.params.id, request.body);
      const fields = Object.keys(request.body);
      request.log.info({ target_user_id: user.id, fields }, 'user updated');
      return user;
    },
  );

  app.post(
    '/api/v1/api-tokens',
    {
      config: { roles: ['Admin'] },
      schema: {
        tags: ['auth'],
        summary: 'Create a publish-only token for an application that publishes events',
        security: [{ bearer: [] }],
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            scope: Type.Literal('publish', { default: 'publish' }),
            expires_in_days: Type.Integer({ minimum: 1, maximum: 3650, default: 365 }),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            id: Type.String(),
            token: Type.String({ description: 'Shown once; only its hash is stored.' }),
            name: Type.String(),
            scope: Type.String(),
            expires_at: Timestamp,
          }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const issued = await auth.createApiToken(principalOf(request).id, {
        name: request.body.name,
        scope: request.body.scope,
        ttlMs: request.body.expires_in_days * 86_400_000,
      });
      request.log.info({ token_id: issued.id, scope: issued.scope }, 'api token created');
      return reply.code(201).send(issued);
    },
  );

  app.get(
    '/api/v1/api-tokens',
    {
      config: { roles: ['Admin'] },
      schema: {
        tags: ['auth'],
        summary: 'List application tokens without their values',
        security: [{ bearer: [] }],
        response: {
          200: Type.Object({
            data: Type.Array(
              Type.Object({
                id: Type.String(),
                name: Type.String(),
                scope: Type.String(),
                created_by: Type.String(),
                created_at: Timestamp,
                expires_at: Timestamp,
              }),
            ),
          }),
          ...errorResponses,
        },
      },
    },
    async () => ({ data: await auth.listApiTokens() }),
  );

  app.delete(
    '/api/v1/api-tokens/:id',
    {
      config: { roles: ['Admin'] },
      schema: {
        tags: ['auth'],
        summary: 'Revoke an application token',
        security: [{ bearer: [] }],
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      if (!(await auth.revokeApiToken(request.params.id))) {
        throw notFound('api token', request.params.id);
      }
      request.log.info({ token_id: request.params.id }, 'api token revoked');
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/users/me',
    {
      config: { roles: ALL_ROLES },
      schema: {
        tags: ['users'],
        summary: 'The user that owns the bearer token',
        security: [{ bearer: [] }],
        response: {
          200: Type.Object({ id: Type.String(), email: Type.String(), role: RoleSchema, scope: Type.String() }),
          401: ErrorBody,
        },
      },
    },
    async (request) => principalOf(request),
  );
}
