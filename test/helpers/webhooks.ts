import assert from 'node:assert/strict';
import type { ApiClient, ApiResponse } from './api.js';
import { eventually } from './receiver.js';
import type { TestService } from './service.js';

/** Creates a webhook; `completion` by default, so report submissions in a test do not reach it. */
export function createWebhook(
  admin: ApiClient,
  url: string,
  extra: Record<string, unknown> = {},
): Promise<ApiResponse> {
  return admin.post('/api/v1/webhooks', { name: 'Receiver', url, event_types: ['completion'], ...extra });
}

/**
 * Writes a URL straight into a webhook's row, as if it had been saved under a wider
 * WEBHOOK_ALLOWED_CIDRS or an older version, so that only the send-time check stands
 * between the row and a connection.
 */
export async function storeUrl(svc: TestService, webhookId: string, url: string): Promise<void> {
  await svc.service.db.updateTable('webhooks').set({ url }).where('id', '=', webhookId).execute();
  svc.service.worker.webhooksChanged();
}

/** Runs the test call of a webhook and returns its result body. */
export async function testCall(admin: ApiClient, webhookId: string): Promise<Record<string, any>> {
  const response = await admin.post(`/api/v1/webhooks/${webhookId}/test`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body as Record<string, any>;
}

/** Creates a report as an Engineer and submits it, which emits one `submission` event. */
export async function submitReport(svc: TestService, engineer?: ApiClient): Promise<string> {
  const author = engineer ?? (await svc.userClient('Engineer'));
  const report = await author.post('/api/v1/reports', { type: 'SAT', title: 'T', reference: 'R', client: 'C' });
  assert.equal(report.status, 201, JSON.stringify(report.body));
  const submitted = await author.post(`/api/v1/reports/${report.body.id}/submit`);
  assert.equal(submitted.status, 200, JSON.stringify(submitted.body));
  return report.body.id as string;
}

/** Waits until the webhook's newest delivery is finished and returns it with its attempts. */
export async function finishedDelivery(
  admin: ApiClient,
  webhookId: string,
  timeoutMs = 10_000,
): Promise<Record<string, any>> {
  return eventually(
    async () => {
      const list = await admin.get(`/api/v1/webhooks/${webhookId}/deliveries?limit=1`);
      const newest = list.body.data?.[0];
      if (newest === undefined || !['succeeded', 'failed'].includes(newest.status)) return undefined;
      return (await admin.get(`/api/v1/deliveries/${newest.id}`)).body as Record<string, any>;
    },
    timeoutMs,
    `a finished delivery for webhook ${webhookId}`,
  );
}
