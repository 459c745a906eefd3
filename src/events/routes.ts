import { Type } from 'typebox';
import { ALL_ROLES, principalOf } from '../auth/guard.js';
import type { App } from '../http/server.js';
import { ErrorBody, errorResponses } from '../http/schemas.js';
import { bindLogFields } from '../observability/request-log.js';
import type { PublishService } from './publish.js';
import type { EventTypeRegistry } from './registry.js';

const CatalogEntrySchema = Type.Object({
  name: Type.String(),
  description: Type.String(),
  schema: Type.Unknown(),
  example: Type.Unknown(),
  custom: Type.Boolean(),
});

export function registerEventRoutes(app: App, registry: EventTypeRegistry, publisher: PublishService): void {
  app.get(
    '/api/v1/event-types',
    {
      config: { roles: ALL_ROLES },
      schema: {
        tags: ['events'],
        summary: 'The event catalog: each type with its payload schema and an example',
        security: [{ bearer: [] }],
        response: { 200: Type.Object({ data: Type.Array(CatalogEntrySchema) }), ...errorResponses },
      },
    },
    async () => ({ data: await registry.list() }),
  );

  app.post(
    '/api/v1/event-types',
    {
      config: { roles: ['Admin'] },
      schema: {
        tags: ['events'],
        summary: 'Register a custom event type with a JSON Schema of its data',
        security: [{ bearer: [] }],
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100, description: 'e.g. invoice.paid' }),
            description: Type.String({ minLength: 1, maxLength: 1000 }),
            schema: Type.Record(Type.String(), Type.Unknown(), { description: 'JSON Schema of `data`.' }),
            example: Type.Unknown({ description: 'An example `data` that matches the schema.' }),
          },
          { additionalProperties: false },
        ),
        response: { 201: CatalogEntrySchema, 409: ErrorBody, ...errorResponses },
      },
    },
    async (request, reply) => {
      const entry = await registry.register(request.body, principalOf(request).email);
      request.log.info({ event_type: entry.name }, 'event type registered');
      return reply.code(201).send(entry);
    },
  );

  app.post(
    '/api/v1/events',
    {
      config: { roles: ['Admin'], publish: true },
      schema: {
        tags: ['events'],
        summary: 'Publish an event of a custom type to the webhooks subscribed to it',
        security: [{ bearer: [] }],
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String()) }),
        body: Type.Object(
          {
            type: Type.String({ minLength: 1, maxLength: 100 }),
            data: Type.Unknown({ description: "The event's data; validated against the type's schema." }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ id: Type.String(), type: Type.String(), deliveries: Type.Integer(), created: Type.Boolean() }),
          202: Type.Object({ id: Type.String(), type: Type.String(), deliveries: Type.Integer(), created: Type.Boolean() }),
          409: ErrorBody,
          413: ErrorBody,
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const result = await publisher.publish({
        type: request.body.type,
        data: request.body.data,
        idempotencyKey: request.headers['idempotency-key'],
        owner: principalOf(request).id,
        requestId: request.id,
      });
      bindLogFields(request, {
        event_id: result.id,
        event_type: result.type,
        deliveries: result.deliveries,
        created: result.created,
      });
      return reply.code(result.created ? 202 : 200).send(result);
    },
  );
}
