import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { submitNewReport } from './helpers/api.js';
import { eventually, startReceiver, type Receiver } from './helpers/receiver.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startService, type TestService } from './helpers/service.js';

type LogLine = Record<string, any>;

function readLog(file: string): { text: string; lines: LogLine[] } {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as LogLine);
  return { text, lines };
}

describe('structured logs', () => {
  let svc: TestService;
  let flaky: Receiver;
  let broken: Receiver;

  before(async () => {
    svc = await startService();
    flaky = await startReceiver((_request, n) => ({ status: n === 1 ? 500 : 204 }));
    broken = await startReceiver(() => ({ status: 500, body: 'down' }));
  });
  after(async () => {
    await flaky.close();
    await broken.close();
    await svc.close();
  });

  it('follows one request id from the request to every attempt', async () => {
    const customHeaderValue = 'custom-header-value-7f3a9c';
    const secrets: string[] = [ADMIN_PASSWORD, svc.admin.token as string, customHeaderValue];
    const webhookIds = new Map<Receiver, string>();
    for (const receiver of [flaky, broken]) {
      const created = await svc.admin.post('/api/v1/webhooks', {
        name: `Receiver ${receiver.port}`,
        url: receiver.url,
        event_types: ['submission'],
        headers: { 'X-Api-Key': customHeaderValue },
      });
      assert.equal(created.status, 201);
      secrets.push(created.body.secret as string);
      webhookIds.set(receiver, created.body.id as string);
      const revealed = await svc.admin.get(`/api/v1/webhooks/${created.body.id}/secret`);
      assert.equal(revealed.status, 200);
    }

    const engineer = await svc.userClient('Engineer');
    secrets.push(engineer.token as string, 'Engineer-password-1-long');
    const wrongPassword = 'wrong-password-for-log-test';
    secrets.push(wrongPassword);
    const me = await engineer.get('/api/v1/users/me');
    const rejected = await svc.admin.post('/api/v1/auth/token', {
      email: me.body.email,
      password: wrongPassword,
    });
    assert.equal(rejected.status, 401);

    const requestId = 'trace-logs-0001';
    const submitted = await submitNewReport(engineer, 'Log trace', { 'X-Request-Id': requestId });
    assert.equal(submitted.status, 200);
    assert.equal(submitted.headers.get('x-request-id'), requestId);

    await flaky.waitFor(2);
    await broken.waitFor(3);
    for (const request of [...flaky.requests, ...broken.requests]) {
      const signature = String(request.headers['webhook-signature']);
      secrets.push(signature, signature.replace(/^v1,/, ''));
    }

    const event = await svc.service.db
      .selectFrom('events')
      .select(['id', 'request_id'])
      .where('request_id', '=', requestId)
      .executeTakeFirst();
    assert.ok(event, 'the event stores the request id');

    const traced = await eventually(
      async () => {
        const lines = readLog(svc.logFile).lines.filter((line) => line.request_id === requestId);
        const attempts = lines.filter((line) => line.attempt !== undefined);
        return attempts.length >= 5 ? lines : undefined;
      },
      10_000,
      'five attempt lines',
    );

    const requestLine = traced.find((line) => line.msg === 'request completed');
    assert.ok(requestLine, 'the request has a closing line');
    assert.equal(requestLine.route, '/api/v1/reports/:id/submit');
    assert.equal(requestLine.method, 'POST');
    assert.equal(requestLine.status_code, 200);
    assert.equal(typeof requestLine.duration_ms, 'number');
    assert.equal(requestLine.user_id, me.body.id);
    assert.equal(requestLine.role, 'Engineer');
    // The closing line carries what the request did, so a report action writes one line.
    assert.equal(requestLine.report_id, submitted.body.id);
    assert.equal(requestLine.report_status, 'PENDING');
    const handlerLines = traced.filter((line) => line.component !== 'worker');
    assert.deepEqual(
      handlerLines.map((line) => line.msg),
      ['request completed'],
    );
    for (const line of handlerLines) {
      assert.equal(line.route, '/api/v1/reports/:id/submit', `"${line.msg}" names the route`);
      assert.equal(line.user_id, me.body.id, `"${line.msg}" names the user`);
    }

    const attempts = traced.filter((line) => line.attempt !== undefined);
    assert.ok(attempts.every((line) => line.event_id === event.id));
    const levels = (receiver: Receiver) =>
      attempts
        .filter((line) => line.webhook_id === webhookIds.get(receiver))
        .sort((a, b) => a.attempt - b.attempt)
        .map((line) => `${line.level}:${line.msg}`);
    assert.deepEqual(levels(flaky), [
      'warn:delivery attempt failed; will retry',
      'info:delivery succeeded',
    ]);
    assert.deepEqual(levels(broken), [
      'warn:delivery attempt failed; will retry',
      'warn:delivery attempt failed; will retry',
      'error:delivery failed',
    ]);

    const { text } = readLog(svc.logFile);
    for (const secret of secrets) {
      assert.ok(
        !text.includes(secret),
        `the log contains a secret value starting ${secret.slice(0, 4)}`,
      );
    }
  });

  it('logs the first Admin by id only', () => {
    const { text, lines } = readLog(svc.logFile);
    const created = lines.find((line) => line.msg === 'first Admin created from ADMIN_EMAIL');
    assert.ok(created, 'no line reports the first Admin');
    assert.match(String(created.user_id), /^usr_[0-9A-Z]{26}$/);
    assert.equal(text.includes(ADMIN_EMAIL), false);
  });

  it('replaces an invalid request id with a generated one', async () => {
    const response = await svc.admin.request('GET', '/api/v1/users/me', undefined, {
      'X-Request-Id': 'has spaces and ; semicolons',
    });
    assert.equal(response.status, 200);
    const echoed = response.headers.get('x-request-id') ?? '';
    assert.match(echoed, /^req_/);

    const line = await eventually(async () =>
      readLog(svc.logFile).lines.find(
        (entry) => entry.request_id === echoed && entry.msg === 'request completed',
      ),
    );
    assert.equal(line.route, '/api/v1/users/me');
    assert.equal(line.role, 'Admin');
  });
});
