import { Type } from 'typebox';
import { principalOf } from '../auth/guard.js';
import type { App } from '../http/server.js';
import { ErrorBody, errorResponses, IdParams } from '../http/schemas.js';
import {
  TestResultSchema,
  WebhookCreateBody,
  WebhookPatchBody,
  WebhookSchema,
  WebhookWithSecret,
} from './schemas.js';
import type { WebhookService } from './service.js';

const admin = { roles: ['Admin'] } as const;
const security = [{ bearer: [] }];

export function registerWebhookRoutes(app: App, webhooks: WebhookService): void {
  app.get(
    '/api/v1/webhooks',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        summary: 'List webhooks',
        security,
        response: { 200: Type.Object({ data: Type.Array(WebhookSchema) }), ...errorResponses },
      },
    },
    async () => ({ data: await webhooks.list() }),
  );

  app.post(
    '/api/v1/webhooks',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        summary: 'Create a webhook; the response holds its signing secret',
        security,
        body: WebhookCreateBody,
        response: { 201: WebhookWithSecret, ...errorResponses },
      },
    },
    async (request, reply) => {
      const created = await webhooks.create(request.body, principalOf(request).email);
      request.log.info({ webhook_id: created.id, event_types: created.event_types }, 'webhook created');
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/api/v1/webhooks/:id',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        summary: 'Get a webhook',
        security,
        params: IdParams,
        response: { 200: WebhookSchema, ...errorResponses },
      },
    },
    async (request) => webhooks.get(request.params.id),
  );

  app.patch(
    '/api/v1/webhooks/:id',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        summary: 'Change some fields of a webhook',
        security,
        params: IdParams,
        body: WebhookPatchBody,
        response: { 200: WebhookSchema, ...errorResponses },
      },
    },
    async (request) => {
      const updated = await webhooks.update(request.params.id, request.body);
      request.log.info({ webhook_id: updated.id, fields: Object.keys(request.body) }, 'webhook updated');
      return updated;
    },
  );

  app.delete(
    '/api/v1/webhooks/:id',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        summary: 'Delete a webhook and its deliveries',
        security,
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      await webhooks.remove(request.params.id);
      request.log.info({ webhook_id: request.params.id }, 'webhook deleted');
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/webhooks/:id/secret',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        summary: 'Reveal the signing secret of a webhook',
        security,
        params: IdParams,
        response: { 200: Type.Object({ secret: Type.String() }), ...errorResponses },
      },
    },
    async (request) => {
      const secret = await webhooks.revealSecret(request.params.id);
      request.log.info({ webhook_id: request.params.id }, 'webhook secret revealed');
      return { secret };
    },
  );

  app.post(
    '/api/v1/webhooks/:id/rotate-secret',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        summary: 'Replace the signing secret; the old one also signs during the overlap period',
        security,
        params: IdParams,
        body: Type.Object(
          {
            overlap_seconds: Type.Optional(
              Type.Integer({ minimum: 0, maximum: 30 * 86_400, description: 'Defaults to WEBHOOK_SECRET_OVERLAP.' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: WebhookWithSecret, ...errorResponses },
      },
      // The body is optional: a bare POST rotates with the configured overlap.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) => {
      const seconds = request.body.overlap_seconds;
      const rotated = await webhooks.rotateSecret(request.params.id, seconds === undefined ? undefined : seconds * 1000);
      request.log.info(
        { webhook_id: rotated.id, overlap_until: rotated.previous_secret_expires_at },
        'webhook secret rotated',
      );
      return rotated;
    },
  );

  app.post(
    '/api/v1/webhooks/:id/test',
    {
      config: admin,
      schema: {
        tags: ['webhooks'],
        summary: 'Send an example event to the webhook now and return the outcome',
        security,
        params: IdParams,
        response: { 200: TestResultSchema, 404: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (request) => {
      const result = await webhooks.test(request.params.id);
      request.log.info(
        {
          webhook_id: request.params.id,
          status_code: result.status_code,
          error_kind: result.error_kind,
          error: result.error,
        },
        'webhook test sent',
      );
      return result;
    },
  );
}
