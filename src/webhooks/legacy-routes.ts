import { Type } from 'typebox';
import { principalOf } from '../auth/guard.js';
import { AppError, invalid } from '../errors.js';
import type { App } from '../http/server.js';
import { IdParams } from '../http/schemas.js';
import type { PublicWebhook, WebhookService } from './service.js';

/*
 * The routes of the original Flask module, kept so that existing scripts keep working. They
 * call the same service as /api/v1/webhooks and differ only in field names: `event_type`
 * (one name, a comma-separated list or an array) and `headers_json` (a JSON object, or text
 * holding one). Responses carry `success` as the originals did.
 */

const admin = { roles: ['Admin'] } as const;
const security = [{ bearer: [] }];

const LegacyFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  url: Type.String({ minLength: 1, maxLength: 8192 }),
  event_type: Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String(), { minItems: 1 })]),
  headers_json: Type.Union([Type.String(), Type.Record(Type.String(), Type.String()), Type.Null()]),
  is_active: Type.Boolean(),
};

const LegacyCreateBody = Type.Object(
  {
    name: LegacyFields.name,
    url: LegacyFields.url,
    event_type: LegacyFields.event_type,
    headers_json: Type.Optional(LegacyFields.headers_json),
    is_active: Type.Optional(LegacyFields.is_active),
  },
  { additionalProperties: false },
);

const LegacyUpdateBody = Type.Partial(Type.Object(LegacyFields), { additionalProperties: false });

function eventTypesOf(value: string | string[]): string[] {
  const list = Array.isArray(value) ? value : value.split(',');
  return list.map((type) => type.trim()).filter((type) => type !== '');
}

function headersOf(value: string | Record<string, string> | null | undefined): Record<string, string> {
  if (value === null || value === undefined || value === '') return {};
  if (typeof value !== 'string') return value;

  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw invalid('headers_json', 'headers_json is not valid JSON; write an object such as {"Authorization": "Bearer …"}.');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw invalid('headers_json', 'headers_json must hold a JSON object of header names to values.');
  }
  return parsed as Record<string, string>;
}

/** Reports a validation error under the original route's field names. */
async function withLegacyFieldNames<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (!(error instanceof AppError) || error.field === undefined) throw error;
    const field = error.field
      .replace(/^event_types$/, 'event_type')
      .replace(/^headers(?=\.|$)/, 'headers_json');
    throw new AppError(error.code, error.message, field);
  }
}

function toLegacy(webhook: PublicWebhook): Record<string, unknown> {
  return {
    id: webhook.id,
    name: webhook.name,
    url: webhook.url,
    event_type: webhook.event_types.join(','),
    headers_json: JSON.stringify(webhook.headers),
    is_active: webhook.is_active,
    created_by: webhook.created_by,
    created_at: webhook.created_at,
    last_triggered: webhook.last_triggered,
    trigger_count: webhook.trigger_count,
  };
}

export function registerLegacyWebhookRoutes(app: App, webhooks: WebhookService): void {
  const schema = { tags: ['legacy'], security };

  app.post(
    '/webhooks/api/create',
    { config: admin, schema: { ...schema, summary: 'Create a webhook (original field names)', body: LegacyCreateBody } },
    async (request, reply) => {
      const body = request.body;
      const created = await withLegacyFieldNames(webhooks.create(
        {
          name: body.name,
          url: body.url,
          event_types: eventTypesOf(body.event_type),
          headers: headersOf(body.headers_json),
          ...(body.is_active === undefined ? {} : { is_active: body.is_active }),
        },
        principalOf(request).email,
      ));
      request.log.info({ webhook_id: created.id }, 'webhook created through the original route');
      return reply.code(201).send({ success: true, webhook: toLegacy(created), secret: created.secret });
    },
  );

  app.put(
    '/webhooks/api/update/:id',
    {
      config: admin,
      schema: { ...schema, summary: 'Update a webhook (original field names)', params: IdParams, body: LegacyUpdateBody },
    },
    async (request) => {
      const body = request.body;
      const updated = await withLegacyFieldNames(webhooks.update(
        request.params.id,
        {
          ...(body.name === undefined ? {} : { name: body.name }),
          ...(body.url === undefined ? {} : { url: body.url }),
          ...(body.event_type === undefined ? {} : { event_types: eventTypesOf(body.event_type) }),
          ...(body.headers_json === undefined ? {} : { headers: headersOf(body.headers_json) }),
          ...(body.is_active === undefined ? {} : { is_active: body.is_active }),
        },
        true,
      ));
      request.log.info({ webhook_id: updated.id }, 'webhook updated through the original route');
      return { success: true, webhook: toLegacy(updated) };
    },
  );

  app.delete(
    '/webhooks/api/delete/:id',
    { config: admin, schema: { ...schema, summary: 'Delete a webhook (original route)', params: IdParams } },
    async (request) => {
      await webhooks.remove(request.params.id);
      request.log.info({ webhook_id: request.params.id }, 'webhook deleted through the original route');
      return { success: true };
    },
  );

  app.post(
    '/webhooks/api/test/:id',
    { config: admin, schema: { ...schema, summary: 'Send a test event (original route)', params: IdParams } },
    async (request) => {
      const result = await webhooks.test(request.params.id);
      return result;
    },
  );
}
