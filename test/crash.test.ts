import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { ApiClient } from './helpers/api.js';
import { createTestDatabase } from './helpers/database.js';
import { spawnServer, type ServerProcess } from './helpers/process.js';
import { eventually, startReceiver, type Receiver } from './helpers/receiver.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, tempDir, testEnv } from './helpers/service.js';

describe('crash recovery', () => {
  const dir = tempDir();
  const logFile = path.join(dir, 'server.log');
  const cleanup: Array<() => Promise<unknown>> = [];
  let env: Record<string, string>;
  before(async () => {
    const database = await createTestDatabase(dir);
    cleanup.push(() => database.drop());
    // On PostgreSQL a restarted process cannot tell that the killed one is gone, so it
    // takes over the killed process's leases only when they expire: keep them short.
    env = testEnv(dir, {
      DATABASE_URL: database.url,
      LOG_LEVEL: 'info',
      WEBHOOK_TIMEOUT: '5s',
      WEBHOOK_LEASE_MARGIN: '1s',
      WEBHOOK_RETRY_SCHEDULE: '0,1s,1s,1s,1s',
    });
  });
  after(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  async function start(): Promise<{ server: ServerProcess; admin: ApiClient }> {
    const server = await spawnServer(env, logFile);
    cleanup.push(async () => {
      if (server.child.exitCode === null && server.child.signalCode === null) await server.kill();
    });
    return { server, admin: await ApiClient.signIn(server.url, ADMIN_EMAIL, ADMIN_PASSWORD) };
  }

  it('delivers everything pending after SIGKILL and a restart', async () => {
    let failing = true;
    const receiver: Receiver = await startReceiver(() => (failing ? { status: 500 } : { status: 204 }));
    cleanup.push(() => receiver.close());

    const first = await start();
    const webhook = await first.admin.post('/api/v1/webhooks', {
      name: 'crash',
      url: receiver.url,
      event_types: ['submission', 'approval', 'rejection', 'completion'],
    });
    assert.equal(webhook.status, 201);

    const reportIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const report = await first.admin.post('/api/v1/reports', { type: 'SAT', title: `R${i}`, reference: `REF-${i}`, client: 'C' });
      await first.admin.post(`/api/v1/reports/${report.body.id}/submit`);
      reportIds.push(report.body.id as string);
    }
    // Every event has failed once and waits for its retry when the process dies.
    await receiver.waitFor(5);
    assert.equal(await first.server.kill('SIGKILL'), 'SIGKILL');

    failing = false;
    const second = await start();
    const delivered = await eventually(async () => {
      const list = await second.admin.get(`/api/v1/webhooks/${webhook.body.id}/deliveries?status=succeeded`);
      return list.body.data.length === 5 ? list.body.data : undefined;
    }, 15_000, 'five succeeded deliveries after the restart');
    assert.equal(delivered.length, 5);

    const verifier = new Webhook(webhook.body.secret as string);
    const successes = receiver.requests.slice(5);
    const ids = new Set(successes.map((request) => request.headers['webhook-id']));
    assert.equal(ids.size, 5);
    for (const request of successes) verifier.verify(request.body, request.headers as Record<string, string>);
    const reportsSeen = new Set(successes.map((request) => JSON.parse(request.body).report.id));
    assert.deepEqual([...reportsSeen].sort(), [...reportIds].sort());
    await second.server.kill('SIGTERM');
  });

  it('resends the in-flight attempt with its webhook-id', async () => {
    let hold = true;
    const slow: Receiver = await startReceiver(() => (hold ? { hang: true } : { status: 204 }));
    cleanup.push(() => slow.close());

    const first = await start();
    const webhook = await first.admin.post('/api/v1/webhooks', {
      name: 'in flight',
      url: slow.url,
      event_types: ['submission'],
    });
    const report = await first.admin.post('/api/v1/reports', { type: 'SAT', title: 'T', reference: 'R', client: 'C' });
    await first.admin.post(`/api/v1/reports/${report.body.id}/submit`);
    const [inFlight] = await slow.waitFor(1);
    await first.server.kill('SIGKILL');

    hold = false;
    const second = await start();
    const [, resent] = await slow.waitFor(2, 20_000);
    assert.equal(resent!.headers['webhook-id'], inFlight!.headers['webhook-id']);
    assert.equal(resent!.body, inFlight!.body);

    const done = await eventually(async () => {
      const list = await second.admin.get(`/api/v1/webhooks/${webhook.body.id}/deliveries`);
      return list.body.data[0]?.status === 'succeeded' ? list.body.data[0] : undefined;
    }, 10_000, 'the resent delivery to succeed');
    assert.equal(done.attempt_count, 1);
    await second.server.kill('SIGTERM');
  });
});
