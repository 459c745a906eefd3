import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startService, type TestService } from './helpers/service.js';

const VALID = { name: 'hook', url: 'http://127.0.0.2:9/hook', event_types: ['submission'] };

const BAD_CREATES: ReadonlyArray<[string, Record<string, unknown>, string]> = [
  ['relative url', { ...VALID, url: '/hook' }, 'url'],
  ['no scheme', { ...VALID, url: 'example.com/hook' }, 'url'],
  ['ftp scheme', { ...VALID, url: 'ftp://127.0.0.2/hook' }, 'url'],
  ['url over 2048 characters', { ...VALID, url: `http://127.0.0.2/${'a'.repeat(2040)}` }, 'url'],
  ['credentials in url', { ...VALID, url: 'http://user:pw@127.0.0.2:9/hook' }, 'url'],
  ['url with a space', { ...VALID, url: 'http://127.0.0.2:9/a b' }, 'url'],
  ['empty name', { ...VALID, name: '   ' }, 'name'],
  ['name with CR LF', { ...VALID, name: 'hook\r\nsecond line' }, 'name'],
  ['name with a tab', { ...VALID, name: 'hook\tname' }, 'name'],
  ['name with a C1 control', { ...VALID, name: 'hook\u0085name' }, 'name'],
  ['name with a line separator', { ...VALID, name: 'hook\u2028name' }, 'name'],
  ['unknown event type', { ...VALID, event_types: ['submission', 'deleted'] }, 'event_types'],
  ['empty event types', { ...VALID, event_types: [] }, 'event_types'],
  ['event types not a list', { ...VALID, event_types: 'submission' }, 'event_types'],
  ['header value with CR LF', { ...VALID, headers: { 'X-A': 'a\r\nX-Injected: 1' } }, 'headers.X-A'],
  ['header value with LF', { ...VALID, headers: { 'X-A': 'a\nb' } }, 'headers.X-A'],
  ['header value with NUL', { ...VALID, headers: { 'X-A': 'a\u0000b' } }, 'headers.X-A'],
  ['header value a number', { ...VALID, headers: { 'X-A': 5 } }, 'headers.X-A'],
  ['header value an object', { ...VALID, headers: { 'X-A': { b: 1 } } }, 'headers.X-A'],
  ['header name with a space', { ...VALID, headers: { 'X A': 'v' } }, 'headers.X A'],
  ['header name with a colon', { ...VALID, headers: { 'X:A': 'v' } }, 'headers.X:A'],
  ['empty header name', { ...VALID, headers: { '': 'v' } }, 'headers.'],
  ['Host header', { ...VALID, headers: { Host: 'evil.test' } }, 'headers.Host'],
  ['Content-Length header', { ...VALID, headers: { 'Content-Length': '1' } }, 'headers.Content-Length'],
  ['Content-Type header', { ...VALID, headers: { 'content-type': 'text/plain' } }, 'headers.content-type'],
  ['Transfer-Encoding header', { ...VALID, headers: { 'Transfer-Encoding': 'chunked' } }, 'headers.Transfer-Encoding'],
  ['Connection header', { ...VALID, headers: { Connection: 'close' } }, 'headers.Connection'],
  ['webhook-signature header', { ...VALID, headers: { 'Webhook-Signature': 'v1,x' } }, 'headers.Webhook-Signature'],
  ['names differing in case', { ...VALID, headers: { 'X-Key': 'a', 'x-key': 'b' } }, 'headers.x-key'],
  ['51 headers', { ...VALID, headers: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`X-H${i}`, 'v'])) }, 'headers'],
  ['10 KiB header value', { ...VALID, headers: { 'X-Big': 'v'.repeat(10 * 1024) } }, 'headers.X-Big'],
  ['unknown field', { ...VALID, colour: 'blue' }, 'colour'],
  ['missing url', { name: 'hook', event_types: ['submission'] }, 'url'],
  ['is_active not boolean', { ...VALID, is_active: 'yes' }, 'is_active'],
];

describe('input validation', () => {
  let svc: TestService;

  before(async () => {
    svc = await startService();
  });
  after(() => svc.close());

  async function webhookCount(): Promise<number> {
    return (await svc.admin.get('/api/v1/webhooks')).body.data.length as number;
  }

  it('rejects each bad webhook with 400 naming the field', async () => {
    for (const [name, body, field] of BAD_CREATES) {
      const response = await svc.admin.post('/api/v1/webhooks', body);
      assert.equal(response.status, 400, `${name}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.field, field, name);
      assert.equal(typeof response.body.message, 'string', name);
      assert.ok(response.body.message.length > 10, name);
    }
    assert.equal(await webhookCount(), 0);
  });

  it('rejects hostile JSON shapes with 400', async () => {
    // Built as text, since JSON.stringify itself overflows the stack at this depth.
    const deep = `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`;
    const body = JSON.stringify(VALID).replace(/}$/, `,"headers":${deep}}`);
    const nested = await svc.admin.raw('POST', '/api/v1/webhooks', body);
    assert.equal(nested.status, 400);
    assert.equal(nested.body.field, 'headers');
    assert.match(nested.body.message, /nested more than 64 levels/);

    const nul = await svc.admin.post('/api/v1/webhooks', { ...VALID, name: 'a\u0000b' });
    assert.equal(nul.status, 400);
    assert.equal(nul.body.field, 'name');

    const proto = await svc.admin.raw('POST', '/api/v1/webhooks', `{"__proto__": {"x": 1}, "name": "n"}`);
    assert.equal(proto.status, 400);
    assert.equal(proto.body.field, '__proto__');
    const ctor = await svc.admin.raw('POST', '/api/v1/webhooks', `{"constructor": {"prototype": {}}}`);
    assert.equal(ctor.status, 400);
    assert.equal(ctor.body.field, 'constructor');
    assert.equal(await webhookCount(), 0);
  });

  it('rejects unknown query parameters', async () => {
    const response = await svc.admin.get('/api/v1/reports?status=BOGUS');
    assert.equal(response.status, 400);
    assert.equal(response.body.field, 'querystring.status');
  });

  it('accepts an empty body sent with a JSON content type', async () => {
    const created = await svc.admin.post('/api/v1/webhooks', VALID);
    const deleted = await svc.admin.raw('DELETE', `/api/v1/webhooks/${created.body.id}`, '');
    assert.equal(deleted.status, 204);
  });

  it('rejects malformed JSON with 400', async () => {
    const response = await svc.admin.raw('POST', '/api/v1/webhooks', '{"name": "hook",');
    assert.equal(response.status, 400);
    assert.equal(response.body.code, 'invalid_json');
    const wrongType = await svc.admin.raw('POST', '/api/v1/webhooks', 'name=hook', 'text/plain');
    assert.equal(wrongType.status, 415);
    assert.equal(await webhookCount(), 0);
  });

  it('leaves a webhook unchanged when an update is rejected', async () => {
    const created = await svc.admin.post('/api/v1/webhooks', { ...VALID, headers: { 'X-Key': 'secret-value' } });
    assert.equal(created.status, 201);
    const id = created.body.id as string;

    const bad = await svc.admin.patch(`/api/v1/webhooks/${id}`, {
      name: 'renamed',
      headers: { 'X-Key': 'a\r\nb' },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'headers.X-Key');
    const badUrl = await svc.admin.patch(`/api/v1/webhooks/${id}`, { name: 'renamed', url: 'nope' });
    assert.equal(badUrl.status, 400);
    assert.equal(badUrl.body.field, 'url');

    const row = await svc.service.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(row.name, 'hook');
    assert.deepEqual(JSON.parse(row.headers), { 'X-Key': 'secret-value' });
  });

  it('merges header updates and removes a header set to null', async () => {
    const created = await svc.admin.post('/api/v1/webhooks', { ...VALID, headers: { 'X-One': '1', 'X-Two': '2' } });
    const id = created.body.id as string;
    const updated = await svc.admin.patch(`/api/v1/webhooks/${id}`, { headers: { 'X-Two': null, 'X-Three': '3' } });
    assert.equal(updated.status, 200);
    assert.deepEqual(updated.body.headers, { 'X-One': '********', 'X-Three': '********' });
    const row = await svc.service.db.selectFrom('webhooks').select('headers').where('id', '=', id).executeTakeFirstOrThrow();
    assert.deepEqual(JSON.parse(row.headers), { 'X-One': '1', 'X-Three': '3' });
  });

  it('answers 404 for unknown ids and bad report input with 400', async () => {
    assert.equal((await svc.admin.get('/api/v1/webhooks/wh_missing')).status, 404);
    assert.equal((await svc.admin.post('/api/v1/reports/rpt_missing/submit')).status, 404);
    const valid = { type: 'SAT', title: 'T', reference: 'R', client: 'C' };
    const cases: Array<{ body: Record<string, string>; field: string; message?: RegExp }> = [
      { body: { type: 'SAT', title: 'T', reference: 'R' }, field: 'client' },
      { body: { ...valid, title: ' ' }, field: 'title' },
      { body: { ...valid, reference: 'R\nS' }, field: 'reference', message: /control character/ },
      { body: { ...valid, title: 'T\n' }, field: 'title', message: /control character/ },
      { body: { ...valid, title: 'ab\u202ecba' }, field: 'title', message: /bidirectional control/ },
      { body: { ...valid, client: '\u2066C\u2069' }, field: 'client', message: /bidirectional control/ },
      { body: { ...valid, title: '\u200b\u200b' }, field: 'title', message: /must not be empty/ },
      { body: { ...valid, title: 'ab\ud800' }, field: 'title', message: /unpaired UTF-16 surrogate/ },
      { body: { ...valid, title: 'x'.repeat(201) }, field: 'title', message: /200 characters/ },
    ];
    for (const { body, field, message } of cases) {
      const rejected = await svc.admin.post('/api/v1/reports', body);
      assert.equal(rejected.status, 400, JSON.stringify(body));
      assert.equal(rejected.body.field, field, JSON.stringify(body));
      if (message) assert.match(rejected.body.message as string, message);
    }
    const spaced = await svc.admin.post('/api/v1/reports', { ...valid, title: '  T  ' });
    assert.equal(spaced.status, 201);
    assert.equal(spaced.body.title, 'T');
    // Lengths count code points, as the schemas do, and a zero-width non-joiner, which
    // Persian words need, is not a control character.
    const emoji = '\u{1f600}'.repeat(200);
    const persian = '\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645';
    for (const title of [emoji, persian]) {
      const accepted = await svc.admin.post('/api/v1/reports', { ...valid, title });
      assert.equal(accepted.status, 201, JSON.stringify(accepted.body));
      assert.equal(accepted.body.title, title);
    }
  });

  it('accepts the original routes and field names', async () => {
    const created = await svc.admin.post('/webhooks/api/create', {
      name: 'legacy',
      url: 'http://127.0.0.2:9/legacy',
      event_type: 'approval,completion',
      headers_json: '{"Authorization": "Bearer x"}',
      is_active: true,
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.success, true);
    assert.equal(created.body.webhook.event_type, 'approval,completion');
    const id = created.body.webhook.id as string;

    const unknownType = await svc.admin.post('/webhooks/api/create', {
      name: 'legacy',
      url: 'http://127.0.0.2:9/legacy',
      event_type: 'bogus',
    });
    assert.equal(unknownType.status, 400);
    assert.equal(unknownType.body.field, 'event_type');

    const bad = await svc.admin.put(`/webhooks/api/update/${id}`, { headers_json: '{not json' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'headers_json');

    const updated = await svc.admin.put(`/webhooks/api/update/${id}`, { is_active: false, event_type: ['submission'] });
    assert.equal(updated.status, 200);
    assert.equal(updated.body.webhook.is_active, false);
    const modern = await svc.admin.get(`/api/v1/webhooks/${id}`);
    assert.deepEqual(modern.body.event_types, ['submission']);
    assert.deepEqual(modern.body.headers, { Authorization: '********' });

    const deleted = await svc.admin.delete(`/webhooks/api/delete/${id}`);
    assert.deepEqual(deleted.body, { success: true });
    assert.equal((await svc.admin.get(`/api/v1/webhooks/${id}`)).status, 404);
  });
});
