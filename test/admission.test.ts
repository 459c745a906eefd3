import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { AppError } from '../src/errors.js';
import { AdmissionGate, registerAdmissionControl } from '../src/http/admission.js';
import { createHttpServer, type App } from '../src/http/server.js';
import type { Logger } from '../src/observability/logger.js';
import { eventually } from './helpers/receiver.js';
import { startService, type TestService } from './helpers/service.js';

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything the server sends until it closes the connection. */
function readAll(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.once('end', () => resolve(text));
    socket.once('error', reject);
  });
}

/** Resolves on the next turn of the event loop, after every pending promise callback. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('admission gate', () => {
  it('queues past its concurrency in order', async () => {
    const gate = new AdmissionGate({ concurrency: 2, queueLimit: 5 });
    const first = await gate.enter();
    const second = await gate.enter();
    const order: string[] = [];
    const third = gate.enter().then((release) => (order.push('third'), release));
    const fourth = gate.enter().then((release) => (order.push('fourth'), release));
    await turn();
    assert.deepEqual([gate.active, gate.queued, order.length], [2, 2, 0]);

    first();
    first();
    await turn();
    assert.deepEqual(order, ['third']);
    assert.deepEqual([gate.active, gate.queued], [2, 1]);

    second();
    (await third)();
    (await fourth)();
    assert.deepEqual(order, ['third', 'fourth']);
    assert.deepEqual([gate.active, gate.queued], [0, 0]);
  });

  it('tryEnter leaves queued requests first', async () => {
    const gate = new AdmissionGate({ concurrency: 1, queueLimit: 5 });
    const first = gate.tryEnter();
    assert.ok(first);
    assert.equal(gate.tryEnter(), undefined);
    const waiting = gate.enter();
    first();
    // The place went to the waiting request, so none is free.
    assert.equal(gate.tryEnter(), undefined);
    (await waiting)();
    const again = gate.tryEnter();
    assert.ok(again);
    again();
    assert.deepEqual([gate.active, gate.queued], [0, 0]);
  });

  it('rejects with 503 when full, except at the front', async () => {
    const gate = new AdmissionGate({ concurrency: 1, queueLimit: 1 });
    const running = await gate.enter();
    const queued = gate.enter();
    await assert.rejects(gate.enter(), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, 'overloaded');
      assert.equal(error.status, 503);
      assert.equal(error.retryAfterSeconds, 1);
      assert.match(error.message, /1 requests are running and 1 are waiting/);
      return true;
    });
    assert.equal(gate.rejected, 1);

    const order: string[] = [];
    const front = gate.enter(true).then((release) => (order.push('front'), release));
    void queued.then(() => order.push('queued'));
    running();
    (await front)();
    await queued;
    assert.deepEqual(order, ['front', 'queued']);
    assert.equal(gate.rejected, 1);
  });

  it('removes a cancelled waiting request', () => {
    const gate = new AdmissionGate({ concurrency: 1, queueLimit: 1 });
    const running = gate.tryEnter();
    assert.ok(running);
    let admitted = false;
    const cancel = gate.wait(() => (admitted = true));
    assert.equal(typeof cancel, 'function');
    (cancel as () => void)();
    assert.equal(gate.queued, 0);

    // The freed queue place takes another request, and the running one's release is not lost.
    let next: (() => void) | undefined;
    assert.equal(typeof gate.wait((release) => (next = release)), 'function');
    running();
    assert.equal(admitted, false);
    assert.ok(next);
    next();
    assert.deepEqual([gate.active, gate.queued, gate.rejected], [0, 0, 0]);
  });
});

/** Requests of a test route, each kept waiting until the test lets it go. */
class HeldRequests {
  readonly #waiting: Array<() => void> = [];
  started = 0;

  wait(): Promise<void> {
    this.started += 1;
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  releaseOne(): void {
    this.#waiting.shift()?.();
  }
}

describe('admission control over HTTP', () => {
  let app: App;
  let url: string;
  let port: number;
  const gate = new AdmissionGate({ concurrency: 1, queueLimit: 1 });
  const heldRequests = new HeldRequests();

  before(async () => {
    app = createHttpServer(pino({ level: 'silent' }) as Logger);
    registerAdmissionControl(app, gate);
    app.get('/api/v1/hold', async () => {
      await heldRequests.wait();
      return { held: true };
    });
    app.post('/api/v1/echo', async (request) => ({ echoed: request.body }));
    app.get('/api/docs/open', async () => ({ open: true }));
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    port = Number(new URL(url).port);
  });
  after(async () => {
    await app.close();
  });

  const holdStarted = (count: number) =>
    eventually(async () => (heldRequests.started >= count ? true : undefined), 5_000, `${count} held requests`);
  const queued = (count: number) =>
    eventually(async () => (gate.queued === count ? true : undefined), 5_000, `${count} queued requests`);

  it('queues, rejects, and serves other routes', async () => {
    const first = fetch(`${url}/api/v1/hold`);
    await holdStarted(1);
    const second = fetch(`${url}/api/v1/hold`);
    await queued(1);

    const rejected = await fetch(`${url}/api/v1/hold`);
    assert.equal(rejected.status, 503);
    assert.equal(rejected.headers.get('retry-after'), '1');
    const body = (await rejected.json()) as { code: string; message: string };
    assert.equal(body.code, 'overloaded');
    assert.match(body.message, /Send the request again after 1 s/);

    const open = await fetch(`${url}/api/docs/open`);
    assert.equal(open.status, 200);

    heldRequests.releaseOne();
    assert.equal((await first).status, 200);
    await holdStarted(2);
    heldRequests.releaseOne();
    assert.equal((await second).status, 200);
    await eventually(async () => (gate.active === 0 ? true : undefined), 5_000, 'no active request');
  });

  it('drops a disconnected waiting client', async () => {
    const first = fetch(`${url}/api/v1/hold`);
    await holdStarted(3);
    const cancel = new AbortController();
    const waiting = fetch(`${url}/api/v1/hold`, { signal: cancel.signal });
    await queued(1);
    cancel.abort();
    await assert.rejects(waiting);
    await queued(0);

    // The handler of the abandoned request never ran: the next one to start is the fourth.
    const next = fetch(`${url}/api/v1/hold`);
    await queued(1);
    heldRequests.releaseOne();
    assert.equal((await first).status, 200);
    await holdStarted(4);
    heldRequests.releaseOne();
    assert.equal((await next).status, 200);
    assert.equal(heldRequests.started, 4);
  });

  it('frees places of pipelined requests after a disconnect', async () => {
    const socket = await connect(port);
    // Node.js sends the responses to pipelined requests in order, so the second response is
    // not yet attached to the connection when the client leaves.
    const request = 'GET /api/v1/hold HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    socket.write(request + request);
    await holdStarted(5);
    await queued(1);
    socket.destroy();
    await queued(0);
    heldRequests.releaseOne();
    await eventually(async () => (gate.active === 0 ? true : undefined), 5_000, 'every place given back');

    // The API still serves, and the second pipelined request never ran.
    const next = fetch(`${url}/api/v1/hold`);
    await holdStarted(6);
    heldRequests.releaseOne();
    assert.equal((await next).status, 200);
    assert.equal(heldRequests.started, 6);
  });

  it('frees the place while a body arrives', async () => {
    const body = JSON.stringify({ hello: 'world' });
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.write(
      `POST /api/v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    await eventually(async () => (gate.active === 0 ? true : undefined), 5_000, 'the place given back');

    // The only place is free while the body is missing, so another request runs.
    const holding = fetch(`${url}/api/v1/hold`);
    await holdStarted(7);
    assert.equal(gate.active, 1);

    // The body arrives while the place is taken: the echo waits at the front of the queue.
    socket.write(body);
    await queued(1);
    heldRequests.releaseOne();
    assert.equal((await holding).status, 200);
    await eventually(async () => (answer.includes('"echoed"') ? true : undefined), 5_000, 'the echo');
    assert.match(answer, /^HTTP\/1\.1 200/);
    assert.match(answer, /\{"echoed":\{"hello":"world"\}\}/);
    socket.destroy();
  });
});

describe('admission control in the service', () => {
  let svc: TestService;

  before(async () => {
    svc = await startService({ API_CONCURRENCY: '1', API_QUEUE_LIMIT: '0' });
  });
  after(async () => {
    await svc.close();
  });

  it('rejects past API_CONCURRENCY without writing', async () => {
    const port = Number(new URL(svc.url).port);
    const sockets = await Promise.all(Array.from({ length: 30 }, () => connect(port)));
    // Let the service accept every connection, so the requests below arrive in one turn of its loop.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const answers = sockets.map((socket, i) => {
      const body = JSON.stringify({ type: 'SAT', title: `Admission ${i}`, reference: `SAT-ADM-${i}`, client: 'Northwind Water' });
      socket.write(
        `POST /api/v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer ${svc.admin.token ?? ''}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      return readAll(socket);
    });
    const responses = await Promise.all(answers);
    const rejected = responses.filter((text) => text.startsWith('HTTP/1.1 503'));
    const created = responses.filter((text) => text.startsWith('HTTP/1.1 201'));
    assert.ok(rejected.length > 0, 'thirty writes at once against one place and no queue were all served');
    assert.equal(rejected.length + created.length, 30, responses.find((text) => !/^HTTP\/1\.1 (201|503)/.test(text)));
    for (const text of rejected) {
      assert.match(text, /^retry-after: 1\r$/im);
      assert.match(text, /"code":"overloaded"/);
    }
    const listed = await svc.admin.get('/api/v1/reports?limit=100');
    assert.equal(listed.status, 200);
    assert.equal(listed.body.data.length, created.length);

    const health = await fetch(`${svc.url}/healthz`);
    assert.equal(health.status, 200);
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    assert.match(metrics, new RegExp(`^http_api_requests_rejected_total ${rejected.length}$`, 'm'));
    assert.match(metrics, /^http_api_requests\{state="queued"\} 0$/m);
  });
});
