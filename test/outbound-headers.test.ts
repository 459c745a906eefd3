import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { ReceivedRequest, Receiver } from './helpers/receiver.js';
import { startReceiver } from './helpers/receiver.js';
import { startService, type TestService } from './helpers/service.js';
import { createWebhook, finishedDelivery, submitReport, testCall } from './helpers/webhooks.js';

/** [case, custom headers, field named by the 400 response] */
const INJECTION_CASES: ReadonlyArray<[string, Record<string, unknown>, string]> = [
  ['CR/LF and a header line', { 'X-Note': 'ok\r\nX-Injected: 1' }, 'headers.X-Note'],
  ['bare LF', { 'X-Note': 'ok\nX-Injected: 1' }, 'headers.X-Note'],
  ['bare CR', { 'X-Note': 'ok\rX-Injected: 1' }, 'headers.X-Note'],
  ['NUL', { 'X-Note': 'a\u0000b' }, 'headers.X-Note'],
  ['number value', { 'X-Note': 5 }, 'headers.X-Note'],
  ['object value', { 'X-Note': { nested: 'X-Injected: 1' } }, 'headers.X-Note'],
  ['name with a space', { 'X Injected': '1' }, 'headers.X Injected'],
  ['name with a colon', { 'X-Injected:': '1' }, 'headers.X-Injected:'],
  ['name with CR/LF', { 'X-A\r\nX-Injected': '1' }, 'headers.X-A\r\nX-Injected'],
  ['empty name', { '': '1' }, 'headers.'],
  ['51 headers', Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`X-H${i}`, 'v'])), 'headers'],
  ['10 KiB value', { 'X-Note': 'a'.repeat(10 * 1024) }, 'headers.X-Note'],
];

/** Names the service sets or that frame the message; custom values for them are refused. */
const RESERVED_CASES: ReadonlyArray<[string, Record<string, string>]> = [
  ['Host', { Host: 'internal.example.test' }],
  ['Content-Length', { 'Content-Length': '0' }],
  ['Transfer-Encoding', { 'Transfer-Encoding': 'chunked' }],
  ['Connection', { Connection: 'close' }],
  ['Content-Type', { 'Content-Type': 'text/plain' }],
  ['Webhook-Signature', { 'Webhook-Signature': 'v1,forged' }],
  ['webhook-id', { 'webhook-id': 'msg_forged' }],
  ['WEBHOOK-TIMESTAMP', { 'WEBHOOK-TIMESTAMP': '0' }],
  ['Expect', { Expect: '100-continue' }],
  ['names differing in case', { 'X-Token': 'a', 'x-token': 'b' }],
];

const ALL_CASES = [
  ...INJECTION_CASES,
  ...RESERVED_CASES.map(([name, headers]): [string, Record<string, unknown>, string] => {
    const last = Object.keys(headers).at(-1) as string;
    return [name, headers, `headers.${last}`];
  }),
];

describe('outbound safety: custom headers', () => {
  let svc: TestService;
  let receiver: Receiver;
  let webhookId: string;
  let secret: string;

  before(async () => {
    receiver = await startReceiver();
    svc = await startService({ WEBHOOK_RETRY_SCHEDULE: '0' });
    const created = await createWebhook(svc.admin, receiver.url, {
      event_types: ['submission'],
      headers: { 'X-Note': 'kept' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    webhookId = created.body.id;
    secret = created.body.secret;
  });
  after(async () => {
    await svc.close();
    await receiver.close();
  });

  it('refuses each bad header on create with the field named (OS-12, OS-13)', async () => {
    for (const [label, headers, field] of ALL_CASES) {
      const response = await createWebhook(svc.admin, receiver.url, { headers });
      assert.equal(response.status, 400, `${label}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.field, field, label);
    }
    const rows = await svc.service.db.selectFrom('webhooks').select('id').execute();
    assert.equal(rows.length, 1);
  });

  it('refuses each bad header on PATCH and keeps the stored ones', async () => {
    for (const [label, headers, field] of ALL_CASES) {
      const response = await svc.admin.patch(`/api/v1/webhooks/${webhookId}`, { headers });
      assert.equal(response.status, 400, `${label}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.field, field, label);
    }
    const current = await svc.admin.get(`/api/v1/webhooks/${webhookId}`);
    assert.deepEqual(current.body.headers, { 'X-Note': '********' });
  });

  it('refuses each bad header through the original routes', async () => {
    for (const [label, headers, field] of ALL_CASES) {
      const response = await svc.admin.post('/webhooks/api/create', {
        name: 'Legacy',
        url: receiver.url,
        event_type: 'completion',
        headers_json: JSON.stringify(headers),
      });
      assert.equal(response.status, 400, `${label}: ${JSON.stringify(response.body)}`);
      // The original routes name their own field, headers_json, in errors.
      assert.equal(response.body.field, field.replace(/^headers/, 'headers_json'), label);
    }
  });

  it('test call sends service-owned headers', async () => {
    await testCall(svc.admin, webhookId);
    checkRequest(receiver.requests.at(-1), receiver.port, secret);
  });

  it('delivery sends service-owned headers', async () => {
    await submitReport(svc);
    const delivery = await finishedDelivery(svc.admin, webhookId);
    assert.equal(delivery.status, 'succeeded');
    checkRequest(receiver.requests.at(-1), receiver.port, secret);
  });
});

function checkRequest(request: ReceivedRequest | undefined, port: number, secret: string): void {
  assert.ok(request, 'the receiver got no request');
  const names = Object.keys(request.headers);
  assert.ok(!names.includes('x-injected'), `an injected header arrived: ${names.join(', ')}`);
  assert.deepEqual(names.sort(), [
    'connection',
    'content-length',
    'content-type',
    'host',
    'user-agent',
    'webhook-id',
    'webhook-signature',
    'webhook-timestamp',
    'x-note',
  ]);
  assert.equal(request.headers['x-note'], 'kept');
  assert.equal(request.headers.host, `127.0.0.2:${port}`);
  assert.equal(request.headers['content-type'], 'application/json');
  assert.equal(request.headers['content-length'], String(Buffer.byteLength(request.body)));
  new Webhook(secret).verify(request.body, request.headers as Record<string, string>);
}
