import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { buildService } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { openDatabase } from '../src/db/database.js';
import { createLogger } from '../src/observability/logger.js';
import { ApiClient, submitNewReport } from './helpers/api.js';
import { spawnServer, type ServerProcess } from './helpers/process.js';
import { eventually, startReceiver, type Receiver } from './helpers/receiver.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, tempDir, testEnv } from './helpers/service.js';

interface RunningMain {
  readonly server: ServerProcess;
  readonly admin: ApiClient;
  /** Resolves once the process has logged a line whose message is `msg`. */
  waitForLog(msg: string): Promise<void>;
}

/** Starts src/main.ts as a child process and signs in as its first Admin. */
async function startMain(dir: string, env: Record<string, string>): Promise<RunningMain> {
  const logFile = path.join(dir, 'main.log');
  const server = await spawnServer(env, logFile);
  const waitForLog = async (msg: string) => {
    await eventually(
      async () => (fs.readFileSync(logFile, 'utf8').includes(`"msg":"${msg}"`) ? true : undefined),
      20_000,
      `log line "${msg}"`,
    );
  };
  return {
    server,
    admin: await ApiClient.signIn(server.url, ADMIN_EMAIL, ADMIN_PASSWORD),
    waitForLog,
  };
}

async function submitReport(admin: ApiClient, receiver: Receiver): Promise<void> {
  const webhook = await admin.post('/api/v1/webhooks', {
    name: 'Slow',
    url: receiver.url,
    event_types: ['submission'],
  });
  assert.equal(webhook.status, 201);
  assert.equal((await submitNewReport(admin, 'Shutdown')).status, 200);
}

async function deliveryRows(file: string) {
  const db = openDatabase({ dialect: 'sqlite', file });
  try {
    const deliveries = await db.selectFrom('deliveries').select(['id', 'status']).execute();
    const attempts = await db
      .selectFrom('delivery_attempts')
      .select(['delivery_id', 'status_code'])
      .execute();
    return { deliveries, attempts };
  } finally {
    await db.destroy();
  }
}

describe('graceful shutdown', () => {
  const receivers: Receiver[] = [];
  after(async () => {
    await Promise.all(receivers.map((receiver) => receiver.close()));
  });

  it('finishes the attempt in flight on SIGTERM and exits 0', async () => {
    const receiver = await startReceiver(() => ({ status: 204, delayMs: 1_500 }));
    receivers.push(receiver);
    const dir = tempDir();
    const logDir = path.join(dir, 'logs');
    const env = testEnv(dir, {
      LOG_LEVEL: 'info',
      LOG_DIR: logDir,
      SHUTDOWN_GRACE: '10s',
      WEBHOOK_TIMEOUT: '10s',
    });
    const main = await startMain(dir, env);

    await submitReport(main.admin, receiver);
    await receiver.waitFor(1);
    const exited = main.server.kill('SIGTERM');
    await main.waitForLog('shutting down');
    const late = await fetch(`${main.server.url}/healthz`).then(
      (response) => response.status,
      () => 'refused',
    );
    assert.notEqual(late, 200, 'no request is served after SIGTERM');

    assert.equal(await exited, 0);
    await main.waitForLog('stopped');
    const { deliveries, attempts } = await deliveryRows(path.join(dir, 'test.db'));
    assert.deepEqual(
      deliveries.map((row) => row.status),
      ['succeeded'],
    );
    assert.deepEqual(
      attempts.map((row) => row.status_code),
      [204],
    );

    // The process closes its log files before exiting, so the last lines are in app.log.
    const appLog = fs.readFileSync(path.join(logDir, 'app.log'), 'utf8');
    assert.match(appLog, /"msg":"delivery succeeded"/);
    assert.match(appLog, /"msg":"stopped"/);
    assert.equal(fs.readFileSync(path.join(logDir, 'error.log'), 'utf8'), '');
  });

  it('requeues an attempt past the grace period', async () => {
    const receiver = await startReceiver((_request, n) =>
      n === 1 ? { hang: true } : { status: 204 },
    );
    receivers.push(receiver);
    const dir = tempDir();
    const env = testEnv(dir, {
      LOG_LEVEL: 'info',
      SHUTDOWN_GRACE: '100ms',
      WEBHOOK_TIMEOUT: '10s',
    });
    const main = await startMain(dir, env);

    await submitReport(main.admin, receiver);
    await receiver.waitFor(1);
    assert.equal(await main.server.kill('SIGINT'), 0);
    const stopped = await deliveryRows(path.join(dir, 'test.db'));
    assert.deepEqual(stopped.attempts, []);
    assert.deepEqual(
      stopped.deliveries.map((row) => row.status),
      ['pending'],
    );

    const config = loadConfig(env);
    const service = await buildService(config, { logger: createLogger('silent') });
    try {
      await service.start();
      await receiver.waitFor(2);
      const { deliveries, attempts } = await eventually(async () => {
        const rows = await deliveryRows(path.join(dir, 'test.db'));
        return rows.attempts.length > 0 ? rows : undefined;
      });
      assert.deepEqual(
        attempts.map((row) => row.status_code),
        [204],
      );
      assert.deepEqual(
        deliveries.map((row) => row.status),
        ['succeeded'],
      );
    } finally {
      await service.close(0);
    }
  });

  it('cuts off HTTP requests still open when the grace period ends', async () => {
    const dir = tempDir();
    const env = testEnv(dir, { LOG_LEVEL: 'info', SHUTDOWN_GRACE: '1s' });
    const main = await startMain(dir, env);
    const { hostname, port } = new URL(main.server.url);
    // One client sends a body that never ends, the other headers that never end.
    const unfinished = await Promise.all([
      openAndWrite(
        Number(port),
        hostname,
        'POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          `Authorization: Bearer ${main.admin.token}\r\nContent-Length: 100\r\n\r\n{"type`,
      ),
      openAndWrite(Number(port), hostname, 'GET /healthz HTTP/1.1\r\nHost: x\r\n'),
    ]);
    const closed = unfinished.map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
    // Loopback delivers the bytes at once; the pause lets the server's loop read them.
    await new Promise((resolve) => setTimeout(resolve, 200));

    // Node.js would keep the header-less connection for 60 s and the body for 300 s.
    assert.equal(await stopWithin(main.server, 15_000), 0);
    await Promise.all(closed);
    await main.waitForLog('closing HTTP connections still open after the grace period');
    await main.waitForLog('stopped');
  });

  it('closes a keep-alive connection when its last response ends', async () => {
    const receiver = await startReceiver(() => ({ status: 204, delayMs: 1_000 }));
    receivers.push(receiver);
    const dir = tempDir();
    const env = testEnv(dir, { LOG_LEVEL: 'info', SHUTDOWN_GRACE: '20s', WEBHOOK_TIMEOUT: '10s' });
    const main = await startMain(dir, env);
    const webhook = await main.admin.post('/api/v1/webhooks', {
      name: 'Slow',
      url: receiver.url,
      event_types: ['submission'],
    });
    assert.equal(webhook.status, 201);

    // fetch keeps its connection alive, and the test call's response waits for the receiver.
    const testCall = fetch(`${main.server.url}/api/v1/webhooks/${webhook.body.id as string}/test`, {
      method: 'POST',
      headers: { authorization: `Bearer ${main.admin.token}` },
    });
    await receiver.waitFor(1);
    const stopped = stopWithin(main.server, 10_000);
    const response = await testCall;
    assert.equal(response.headers.get('connection'), 'close');
    await response.arrayBuffer();
    assert.equal(await stopped, 0);
  });
});

/**
 * Sends SIGTERM and resolves with the exit status, or with a message after `limitMs`, when
 * the process is killed instead.
 */
async function stopWithin(server: ServerProcess, limitMs: number): Promise<number | string> {
  const exited = server.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    exited,
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`still running ${limitMs / 1000} s after SIGTERM`), limitMs);
    }),
  ]);
  clearTimeout(timer);
  if (outcome !== 0) server.child.kill('SIGKILL');
  return outcome;
}

/** Opens a TCP connection and writes `text` without ending it. */
async function openAndWrite(port: number, host: string, text: string): Promise<net.Socket> {
  const socket = net.connect(port, host);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => socket.write(text, (error) => (error ? reject(error) : resolve())));
  return socket;
}
