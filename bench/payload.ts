import { createHmac } from 'node:crypto';

/** Signing key shared by the contenders that sign outside the service (B0, B1, B2). */
export const BENCH_KEY = Buffer.from('benchmark-signing-key-32-bytes!!');

const PADDING = 'x'.repeat(200);

/** Report fields that make the service's submission payload about 1 KB, like the others'. */
export const REPORT_FIELDS = {
  type: 'SAT',
  title: `Title ${PADDING}`.slice(0, 200),
  reference: `Reference ${PADDING}`.slice(0, 200),
  client: `Client ${PADDING}`.slice(0, 200),
};

/** A payload shaped like the service's submission event, about 1 KB of JSON. */
export function eventPayload(id: string, createdAt: number): string {
  return JSON.stringify({
    id,
    event: 'submission',
    timestamp: new Date(createdAt).toISOString(),
    report: {
      id: `rpt_${id}`,
      ...REPORT_FIELDS,
      submitted_by: 'engineer@bench.test',
      status: 'PENDING',
    },
  });
}

/** Standard Webhooks headers for a message: the same scheme the service signs with. */
export function signedHeaders(id: string, body: string, signing: boolean): Record<string, string> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': timestamp,
  };
  if (signing) {
    const digest = createHmac('sha256', BENCH_KEY).update(`${id}.${timestamp}.${body}`).digest('base64');
    headers['webhook-signature'] = `v1,${digest}`;
  }
  return headers;
}
