import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ApiClient } from './helpers/api.js';
import { COUNTER_TYPE, createWebhook, publish, registerCounterType } from './helpers/events.js';
import { eventually, startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, type TestService } from './helpers/service.js';

const INVOICE = {
  name: 'invoice.paid',
  description: 'An invoice was paid in full.',
  schema: {
    type: 'object',
    required: ['invoice_id', 'amount'],
    properties: { invoice_id: { type: 'string' }, amount: { type: 'number', minimum: 0 } },
  },
  example: { invoice_id: 'inv_42', amount: 120.5 },
};

describe('event publishing', () => {
  let svc: TestService;
  let receiver: Receiver;
  let publisher: ApiClient;

  before(async () => {
    svc = await startService({ EVENT_MAX_PAYLOAD_BYTES: '2048' });
    receiver = await startReceiver();
    await registerCounterType(svc.admin);
    const token = await svc.admin.post('/api/v1/api-tokens', { name: 'Billing system', scope: 'publish' });
    assert.equal(token.status, 201);
    publisher = svc.admin.withToken(token.body.token as string);
  });
  after(async () => {
    await svc.close();
    await receiver.close();
  });

  it('registers a custom type in the catalog', async () => {
    const created = await svc.admin.post('/api/v1/event-types', INVOICE);
    assert.equal(created.status, 201);
    const engineer = await svc.userClient('Engineer');
    const catalog = await engineer.get('/api/v1/event-types');
    const names = catalog.body.data.map((entry: any) => entry.name);
    for (const name of ['submission', 'approval', 'rejection', 'completion', 'webhook.disabled', 'invoice.paid']) {
      assert.ok(names.includes(name), `${name} is missing from the catalog`);
    }
    const invoice = catalog.body.data.find((entry: any) => entry.name === 'invoice.paid');
    assert.deepEqual(invoice.schema.properties.data, INVOICE.schema);
    assert.deepEqual(invoice.example.data, INVOICE.example);
    assert.equal(invoice.custom, true);
  });

  it('rejects invalid type registrations', async () => {
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ ...INVOICE, name: 'Invoice Paid' }, 400, 'name'],
      [{ ...INVOICE, name: 'approval' }, 409, 'name'],
      [{ ...INVOICE }, 409, 'name'],
      [{ ...INVOICE, name: 'invoice.bad', schema: { type: 'no-such-type' } }, 400, 'schema'],
      [{ ...INVOICE, name: 'invoice.other', example: { invoice_id: 7 } }, 400, 'example'],
    ];
    for (const [body, status, field] of cases) {
      const response = await svc.admin.post('/api/v1/event-types', body);
      assert.equal(response.status, status, JSON.stringify(response.body));
      assert.equal(response.body.field, field);
    }
    const engineer = await svc.userClient('Engineer');
    assert.equal((await engineer.post('/api/v1/event-types', { ...INVOICE, name: 'x.y' })).status, 403);
  });

  it('publishes a validated event to subscribers', async () => {
    const webhook = await createWebhook(svc.admin, receiver.url, { event_types: ['invoice.paid'] });
    const response = await publish(publisher, 'invoice.paid', { invoice_id: 'inv_1', amount: 10 });
    assert.equal(response.status, 202);
    assert.equal(response.body.deliveries, 1);
    const [request] = await receiver.waitFor(1);
    const payload = JSON.parse(request!.body);
    assert.equal(payload.id, response.body.id);
    assert.equal(payload.event, 'invoice.paid');
    assert.deepEqual(payload.data, { invoice_id: 'inv_1', amount: 10 });
    assert.equal(request!.headers['webhook-id'], response.body.id);
    assert.ok(webhook.id);
  });

  it('creates one event per Idempotency-Key', async () => {
    const data = { invoice_id: 'inv_2', amount: 20 };
    const first = await publish(publisher, 'invoice.paid', data, 'key-123');
    const again = await publish(publisher, 'invoice.paid', data, 'key-123');
    assert.equal(first.status, 202);
    assert.equal(again.status, 200);
    assert.equal(again.body.id, first.body.id);
    assert.equal(again.body.created, false);

    const other = await publish(publisher, 'invoice.paid', { ...data, amount: 21 }, 'key-123');
    assert.equal(other.status, 409);
    assert.equal(other.body.field, 'Idempotency-Key');

    await receiver.waitFor(2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const ids = receiver.requests.map((request) => request.headers['webhook-id']);
    assert.equal(ids.filter((id) => id === first.body.id).length, 1);
  });

  it('rejects invalid publishes with the field at fault', async () => {
    const cases: Array<[string, unknown, number, string]> = [
      ['invoice.paid', { invoice_id: 'inv_3' }, 400, 'data'],
      ['invoice.paid', { invoice_id: 'inv_3', amount: -1 }, 400, 'data'],
      ['invoice.unknown', {}, 400, 'type'],
      ['approval', {}, 400, 'type'],
      ['webhook.disabled', {}, 400, 'type'],
      ['invoice.paid', { invoice_id: 'x'.repeat(3000), amount: 1 }, 413, 'data'],
    ];
    for (const [type, data, status, field] of cases) {
      const response = await publish(publisher, type, data);
      assert.equal(response.status, status, `${type}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.field, field);
    }
    const badKey = await publish(publisher, 'invoice.paid', { invoice_id: 'a', amount: 1 }, 'x'.repeat(300));
    assert.equal(badKey.status, 400);
    assert.equal(badKey.body.field, 'Idempotency-Key');
  });

  it('limits a publish-only token to publishing', async () => {
    for (const path of ['/api/v1/webhooks', '/api/v1/reports', '/api/v1/event-types']) {
      const response = await publisher.get(path);
      assert.equal(response.status, 403, path);
      assert.match(response.body.message, /only publish events/);
    }
    const engineer = await svc.userClient('Engineer');
    assert.equal((await publish(engineer, COUNTER_TYPE, { n: 1 })).status, 403);
  });

  it('sends the example of the first event type as the test call', async () => {
    const webhook = await createWebhook(svc.admin, receiver.url, { event_types: ['invoice.paid', COUNTER_TYPE] });
    const before = receiver.requests.length;
    const result = await svc.admin.post(`/api/v1/webhooks/${webhook.id}/test`);
    assert.equal(result.status, 200);
    assert.equal(result.body.success, true);
    assert.equal(result.body.event_type, 'invoice.paid');
    const [request] = (await receiver.waitFor(before + 1)).slice(before);
    const payload = JSON.parse(request!.body);
    assert.deepEqual(payload.data, INVOICE.example);
    assert.equal(payload.test, true);

    const detail = await svc.admin.get(`/api/v1/deliveries/${result.body.delivery_id}`);
    assert.equal(detail.body.attempts.length, 1);
    assert.equal(detail.body.attempts[0].trigger, 'test');
    const stored = await eventually(async () => {
      const response = await svc.admin.get(`/api/v1/webhooks/${webhook.id}`);
      return response.body;
    });
    assert.equal(stored.trigger_count, 0);
  });

  it('creates one event for concurrent retries', async () => {
    const data = { invoice_id: 'inv_9', amount: 9 };
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => publish(publisher, 'invoice.paid', data, 'key-concurrent')),
    );
    const ids = new Set(responses.map((response) => response.body.id));
    assert.equal(ids.size, 1);
    assert.equal(responses.filter((response) => response.status === 202).length, 1);
    assert.equal(responses.filter((response) => response.status === 200).length, 9);
  });

  it('revokes an application token', async () => {
    const token = await svc.admin.post('/api/v1/api-tokens', { name: 'Short-lived', scope: 'publish' });
    const listed = await svc.admin.get('/api/v1/api-tokens');
    const entry = listed.body.data.find((candidate: any) => candidate.id === token.body.id);
    assert.equal(entry.name, 'Short-lived');
    assert.equal(entry.scope, 'publish');
    assert.equal(JSON.stringify(listed.body).includes(token.body.token), false);
    const client = svc.admin.withToken(token.body.token as string);
    assert.equal((await publish(client, COUNTER_TYPE, { n: 1 })).status, 202);
    assert.equal((await svc.admin.delete(`/api/v1/api-tokens/${token.body.id}`)).status, 204);
    assert.equal((await publish(client, COUNTER_TYPE, { n: 2 })).status, 401);
  });
});
