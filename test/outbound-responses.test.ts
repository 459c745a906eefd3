import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { eventually } from './helpers/receiver.js';
import { RECEIVER_HOST, startService, type TestService } from './helpers/service.js';
import { createWebhook, finishedDelivery, submitReport, testCall } from './helpers/webhooks.js';

/*
 * Hostile receivers written against raw sockets, so that they can send what no HTTP server
 * library would. WEBHOOK_TIMEOUT is 1 s here; the receivers keep bytes coming faster than
 * that, so only the whole-attempt deadline can end the attempt.
 */

type Behaviour = (socket: net.Socket, every: (ms: number, step: () => void) => void) => void;

interface RawReceiver {
  readonly url: string;
  setBehaviour(behaviour: Behaviour): void;
  /** Sockets accepted, and how each ended. */
  readonly sockets: Array<{ closed: boolean; bytesWritten: number }>;
  close(): Promise<void>;
}

async function startRawReceiver(): Promise<RawReceiver> {
  let behaviour: Behaviour = (socket) => socket.end('HTTP/1.1 204 No Content\r\n\r\n');
  const sockets: RawReceiver['sockets'] = [];
  const open = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const record = { closed: false, bytesWritten: 0 };
    sockets.push(record);
    open.add(socket);
    const timers: NodeJS.Timeout[] = [];
    socket.on('error', () => undefined);
    socket.on('close', () => {
      record.closed = true;
      record.bytesWritten = socket.bytesWritten;
      open.delete(socket);
      for (const timer of timers) clearInterval(timer);
    });
    const every = (ms: number, step: () => void): void => {
      timers.push(setInterval(() => !socket.destroyed && step(), ms));
    };
    const current = behaviour;
    socket.once('data', () => current(socket, every));
  });
  await new Promise<void>((resolve) => server.listen(0, RECEIVER_HOST, resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://${RECEIVER_HOST}:${port}/hook`,
    sockets,
    setBehaviour(next) {
      behaviour = next;
    },
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Writes `chunk` whenever the socket can take more, until the socket closes. */
function writeForever(socket: net.Socket, chunk: Buffer): void {
  const pump = (): void => {
    while (!socket.destroyed && socket.write(chunk));
  };
  socket.on('drain', pump);
  pump();
}

const MAX_EXCERPT_BYTES = 4096;
const ZEROS = Buffer.alloc(64 * 1024);

describe('outbound safety: hostile responses', () => {
  let svc: TestService;
  let receiver: RawReceiver;
  let webhookId: string;

  before(async () => {
    receiver = await startRawReceiver();
    svc = await startService({ WEBHOOK_TIMEOUT: '1s', WEBHOOK_RETRY_SCHEDULE: '0' });
    const created = await createWebhook(svc.admin, receiver.url, { event_types: ['submission'] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    webhookId = created.body.id;
  });
  after(async () => {
    await svc.close();
    await receiver.close();
  });

  /** Sends one delivery, waits for its single attempt, and checks the socket was closed. */
  async function deliverOnce(): Promise<Record<string, any>> {
    const before = receiver.sockets.length;
    await submitReport(svc);
    const delivery = await finishedDelivery(svc.admin, webhookId);
    assert.equal(delivery.attempts.length, 1);
    const socket = receiver.sockets[before];
    assert.ok(socket, 'the receiver accepted no connection');
    await eventually(async () => (socket.closed ? true : undefined), 5_000, 'the socket to close');
    assert.equal(svc.service.worker.inFlight, 0);
    return delivery.attempts[0] as Record<string, any>;
  }

  it('ends a body that trickles one byte at a time (OS-14)', async () => {
    receiver.setBehaviour((socket, every) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n');
      every(200, () => socket.write('1\r\nx\r\n'));
    });
    const attempt = await deliverOnce();
    assert.equal(attempt.error_kind, 'timeout');
    assert.equal(attempt.error, 'timed out after 1000 ms');
  });

  it('ends a body shorter than its Content-Length (OS-14)', async () => {
    receiver.setBehaviour((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789');
    });
    const attempt = await deliverOnce();
    assert.equal(attempt.error_kind, 'timeout');
    assert.equal(attempt.status_code, null);
  });

  it('ends a test call whose body trickles (OS-14)', async () => {
    receiver.setBehaviour((socket, every) => {
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
      every(200, () => socket.write('1\r\nx\r\n'));
    });
    const result = await testCall(svc.admin, webhookId);
    assert.equal(result.error_kind, 'timeout');
    assert.equal(result.error, 'timed out after 1000 ms');
  });

  it('ends a status line and headers that never finish (OS-15)', async () => {
    const head = Buffer.from('HTTP/1.1 200 OK\r\n');
    receiver.setBehaviour((socket, every) => {
      let sent = 0;
      every(150, () => {
        if (sent < head.length) socket.write(head.subarray(sent, ++sent));
        else socket.write(`x-filler-${sent++}: y\r\n`);
      });
    });
    const attempt = await deliverOnce();
    assert.equal(attempt.error_kind, 'timeout');
    assert.match(attempt.error, /timed out/);
  });

  it('reads at most the cap of an endless body (OS-16)', async () => {
    receiver.setBehaviour((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\nconnection: close\r\n\r\n');
      writeForever(socket, ZEROS);
    });
    const before = receiver.sockets.length;
    const attempt = await deliverOnce();
    assert.equal(attempt.status_code, 200);
    assert.equal(attempt.error_kind, null);
    assert.ok(Buffer.byteLength(attempt.response_excerpt) <= MAX_EXCERPT_BYTES);
    // Only what the socket buffers held beyond the 64 KB read: the stream was not drained.
    const written = receiver.sockets[before]?.bytesWritten ?? 0;
    assert.ok(written < 64 * 1024 * 1024, `the receiver wrote ${written} bytes`);
  });

  it('reads at most the cap of a 10 GiB Content-Length (OS-16)', async () => {
    receiver.setBehaviour((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${10 * 1024 ** 3}\r\n\r\n`);
      writeForever(socket, Buffer.alloc(64 * 1024, 'a'));
    });
    const attempt = await deliverOnce();
    assert.equal(attempt.status_code, 200);
    assert.equal(attempt.response_excerpt, 'a'.repeat(MAX_EXCERPT_BYTES));
  });

  it('stores a gzip body as received, not decompressed (OS-16)', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(32 * 1024 * 1024));
    receiver.setBehaviour((socket) => {
      socket.write(
        `HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-type: text/plain\r\ncontent-length: ${bomb.length}\r\n\r\n`,
      );
      socket.write(bomb);
    });
    const attempt = await deliverOnce();
    assert.equal(attempt.status_code, 200);
    const excerpt = attempt.response_excerpt as string;
    // 1f 8b is the gzip magic number: the raw compressed bytes were kept.
    assert.equal(excerpt.charCodeAt(0), 0x1f);
    assert.ok(Buffer.byteLength(excerpt) <= MAX_EXCERPT_BYTES);
    assert.ok(!excerpt.includes('\u0000'));
  });

  it('fails a response with 10 000 headers (OS-16)', async () => {
    receiver.setBehaviour((socket) => {
      const lines = Array.from({ length: 10_000 }, (_, i) => `x-h${i}: v\r\n`).join('');
      socket.end(`HTTP/1.1 200 OK\r\n${lines}content-length: 0\r\n\r\n`);
    });
    const attempt = await deliverOnce();
    assert.equal(attempt.status_code, null);
    assert.equal(attempt.error_kind, 'network');
    assert.equal(attempt.error, 'the response headers exceed the 16 KB limit');
  });

  it('keeps sending to a well-behaved receiver afterwards', async () => {
    receiver.setBehaviour((socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
    const attempt = await deliverOnce();
    assert.equal(attempt.status_code, 200);
    assert.equal(attempt.response_excerpt, 'ok');
  });
});
