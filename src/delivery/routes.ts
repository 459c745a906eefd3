import { Type } from 'typebox';
import type { App } from '../http/server.js';
import { ErrorBody, errorResponses, IdParams, NullableTimestamp, Timestamp } from '../http/schemas.js';
import type { RecoveryResult } from './recovery.js';
import type { DeliveryService } from './service.js';

const admin = { roles: ['Admin'] } as const;
const security = [{ bearer: [] }];

const StatusSchema = Type.Union([
  Type.Literal('pending'),
  Type.Literal('delivering'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('skipped'),
]);

const DeliverySummarySchema = Type.Object({
  id: Type.String(),
  event_id: Type.String({ description: 'Also the webhook-id header of every attempt.' }),
  event_type: Type.String(),
  webhook_id: Type.String(),
  status: StatusSchema,
  attempt_count: Type.Integer(),
  next_attempt_at: NullableTimestamp,
  last_status_code: Type.Union([Type.Integer(), Type.Null()]),
  last_error: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  updated_at: Timestamp,
  completed_at: NullableTimestamp,
  held_back_by: Type.Union([Type.String(), Type.Null()], {
    description: 'On an ordered webhook, the delivery this pending one waits for.',
  }),
});

const AttemptSchema = Type.Object({
  id: Type.String(),
  attempt_number: Type.Integer(),
  trigger: Type.String({
    description: 'automatic (the retry schedule), manual (a redelivery or recovery) or test (a test call).',
  }),
  started_at: Timestamp,
  duration_ms: Type.Integer(),
  status_code: Type.Union([Type.Integer(), Type.Null()]),
  error_kind: Type.Union([Type.String(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  request_headers: Type.Record(Type.String(), Type.String()),
  response_excerpt: Type.Union([Type.String(), Type.Null()]),
});

const DeliveryDetailSchema = Type.Intersect([
  DeliverySummarySchema,
  Type.Object({ payload: Type.Unknown(), attempts: Type.Array(AttemptSchema) }),
]);

export function registerDeliveryRoutes(
  app: App,
  deliveries: DeliveryService,
  recover: (webhookId: string, since: number) => Promise<RecoveryResult>,
): void {
  app.post(
    '/api/v1/webhooks/:id/recover',
    {
      config: admin,
      schema: {
        tags: ['deliveries'],
        summary: 'Send again every failed or skipped delivery since a time, oldest first, at the recovery rate',
        security,
        params: IdParams,
        body: Type.Object({ since: Timestamp }, { additionalProperties: false }),
        response: {
          202: Type.Object({
            webhook_id: Type.String(),
            since: Timestamp,
            queued: Type.Integer(),
            last_due_at: NullableTimestamp,
          }),
          409: ErrorBody,
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const since = Date.parse(request.body.since);
      const result = await recover(request.params.id, since);
      request.log.info({ webhook_id: result.webhook_id, since: result.since, queued: result.queued }, 'recovery queued');
      return reply.code(202).send(result);
    },
  );

  app.get(
    '/api/v1/webhooks/:id/holdback',
    {
      config: admin,
      schema: {
        tags: ['deliveries'],
        summary: "The oldest unfinished delivery and, on an ordered webhook, how many wait behind it",
        security,
        params: IdParams,
        response: {
          200: Type.Object({
            webhook_id: Type.String(),
            ordered: Type.Boolean(),
            head: Type.Union([DeliverySummarySchema, Type.Null()]),
            held_back: Type.Integer(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => deliveries.holdback(request.params.id),
  );

  app.get(
    '/api/v1/webhooks/:id/deliveries',
    {
      config: admin,
      schema: {
        tags: ['deliveries'],
        summary: "List a webhook's deliveries, newest first",
        security,
        params: IdParams,
        querystring: Type.Object(
          {
            status: Type.Optional(StatusSchema),
            event_type: Type.Optional(Type.String({ maxLength: 100 })),
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
            before: Type.Optional(Type.String({ maxLength: 64, description: 'next_cursor of the previous page.' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            data: Type.Array(DeliverySummarySchema),
            next_cursor: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => deliveries.listForWebhook(request.params.id, request.query),
  );

  app.get(
    '/api/v1/deliveries/:id',
    {
      config: admin,
      schema: {
        tags: ['deliveries'],
        summary: 'Get a delivery with its payload and every attempt',
        security,
        params: IdParams,
        response: { 200: DeliveryDetailSchema, ...errorResponses },
      },
    },
    async (request) => deliveries.get(request.params.id),
  );

  app.post(
    '/api/v1/deliveries/:id/redeliver',
    {
      config: admin,
      schema: {
        tags: ['deliveries'],
        summary: 'Send a finished or skipped delivery once more, with the same webhook-id',
        security,
        params: IdParams,
        response: { 202: DeliverySummarySchema, 409: ErrorBody, ...errorResponses },
      },
    },
    async (request, reply) => {
      const delivery = await deliveries.redeliver(request.params.id);
      request.log.info({ delivery_id: delivery.id, webhook_id: delivery.webhook_id }, 'redelivery queued');
      return reply.code(202).send(delivery);
    },
  );
}
