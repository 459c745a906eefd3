import type { ApiClient, ApiResponse } from './api.js';

/** A custom event type whose data is `{ n: integer }`, for tests that publish many events. */
export const COUNTER_TYPE = 'test.counter';

export async function registerCounterType(admin: ApiClient, name = COUNTER_TYPE): Promise<void> {
  const response = await admin.post('/api/v1/event-types', {
    name,
    description: 'A numbered test event.',
    schema: {
      type: 'object',
      required: ['n'],
      properties: { n: { type: 'integer', minimum: 0 } },
      additionalProperties: false,
    },
    example: { n: 0 },
  });
  if (response.status !== 201) throw new Error(`registering ${name} failed: ${JSON.stringify(response.body)}`);
}

/** Creates a webhook and returns its id and secret; fails the test on any other response. */
export async function createWebhook(
  admin: ApiClient,
  url: string,
  fields: Record<string, unknown> = {},
): Promise<{ id: string; secret: string }> {
  const response = await admin.post('/api/v1/webhooks', {
    name: 'Test receiver',
    url,
    event_types: [COUNTER_TYPE],
    ...fields,
  });
  if (response.status !== 201) throw new Error(`creating a webhook failed: ${JSON.stringify(response.body)}`);
  return { id: response.body.id as string, secret: response.body.secret as string };
}

/** Publishes one event through POST /api/v1/events. */
export function publish(
  client: ApiClient,
  type: string,
  data: unknown,
  idempotencyKey?: string,
): Promise<ApiResponse> {
  const headers: Record<string, string> = idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey };
  return client.request('POST', '/api/v1/events', { type, data }, headers);
}

/** Publishes counter events n = from … to - 1, one after the other, and returns their ids. */
export async function publishCounters(client: ApiClient, from: number, to: number): Promise<string[]> {
  const ids: string[] = [];
  for (let n = from; n < to; n++) {
    const response = await publish(client, COUNTER_TYPE, { n });
    if (response.status !== 202) throw new Error(`publishing n=${n} failed: ${JSON.stringify(response.body)}`);
    ids.push(response.body.id as string);
  }
  return ids;
}
