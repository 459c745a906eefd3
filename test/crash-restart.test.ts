import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { ApiClient } from './helpers/api.js';
import { spawnServer, type ServerProcess } from './helpers/process.js';
import { COUNTER_TYPE, createWebhook, publish, registerCounterType } from './helpers/events.js';
import { eventually, startReceiver, type Receiver } from './helpers/receiver.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, tempDir, testEnv } from './helpers/service.js';

const EVENTS = 1_000;
const RECEIVERS = 4;
const CYCLES = 10;

describe('crash and restart', { timeout: 240_000 }, () => {
  const dir = tempDir('webhooks-crash-');
  const logFile = path.join(dir, 'service.log');
  const receivers: Receiver[] = [];
  let env: Record<string, string>;
  let child: ServerProcess | undefined;

  before(async () => {
    env = testEnv(dir, {
      LOG_LEVEL: 'info',
      WEBHOOK_TIMEOUT: '5s',
      WEBHOOK_ENDPOINT_CONCURRENCY: '2',
    });
    // A short delay per response keeps a backlog for the whole series of crashes.
    for (let i = 0; i < RECEIVERS; i++) receivers.push(await startReceiver(() => ({ status: 204, delayMs: 15 })));
  });
  after(async () => {
    if (child && child.child.exitCode === null && child.child.signalCode === null) await child.kill();
    for (const receiver of receivers) await receiver.close();
  });

  it('loses nothing across ten SIGKILLs during a backlog', async () => {
    child = await spawnServer(env, logFile);
    let admin = await ApiClient.signIn(child.url, ADMIN_EMAIL, ADMIN_PASSWORD);
    await registerCounterType(admin);
    const secrets: string[] = [];
    for (const receiver of receivers) secrets.push((await createWebhook(admin, receiver.url)).secret);

    const ids = new Set<string>();
    for (let start = 0; start < EVENTS; start += 20) {
      const batch = Array.from({ length: 20 }, (_, k) => publish(admin, COUNTER_TYPE, { n: start + k }));
      for (const response of await Promise.all(batch)) {
        assert.equal(response.status, 202);
        ids.add(response.body.id as string);
      }
    }
    const expected = EVENTS * RECEIVERS;
    const received = () => receivers.reduce((sum, receiver) => sum + receiver.requests.length, 0);

    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const target = Math.min(received() + Math.floor(expected / (CYCLES * 2)), expected - 1);
      await eventually(async () => (received() >= target ? true : undefined), 60_000, `cycle ${cycle} progress`);
      assert.ok(uniqueCount(receivers) < expected, `the backlog ran out before cycle ${cycle}`);
      await child.kill();
      child = await spawnServer(env, logFile);
    }
    admin = new ApiClient(child.url, admin.token);

    await eventually(async () => (uniqueCount(receivers) === expected ? true : undefined), 120_000, 'every delivery');
    receivers.forEach((receiver, index) => {
      const verifier = new Webhook(secrets[index]!);
      const seen = new Map<number, string>();
      for (const request of receiver.requests) {
        const payload = verifier.verify(request.body, request.headers as Record<string, string>) as any;
        assert.equal(request.headers['webhook-id'], payload.id);
        assert.ok(ids.has(payload.id), `unknown event ${payload.id}`);
        const earlier = seen.get(payload.data.n);
        if (earlier !== undefined) assert.equal(payload.id, earlier, 'a duplicate carries another webhook-id');
        seen.set(payload.data.n, payload.id);
      }
      assert.equal(seen.size, EVENTS);
    });

    // Attempts whose result the kill cut off are sent again; wait for those to finish too.
    const webhooks = (await admin.get('/api/v1/webhooks')).body.data as Array<{ id: string }>;
    const unfinished = async () => {
      let total = 0;
      for (const webhook of webhooks) {
        for (const status of ['pending', 'delivering', 'failed']) {
          const page = await admin.get(`/api/v1/webhooks/${webhook.id}/deliveries?status=${status}&limit=1`);
          total += page.body.data.length;
        }
      }
      return total;
    };
    await eventually(async () => ((await unfinished()) === 0 ? true : undefined), 60_000, 'all deliveries to succeed');
    for (const webhook of webhooks) {
      const done = await admin.get(`/api/v1/webhooks/${webhook.id}/deliveries?status=succeeded&limit=200`);
      assert.equal(done.body.data.length, 200);
    }
  });
});

function uniqueCount(receivers: readonly Receiver[]): number {
  let total = 0;
  for (const receiver of receivers) {
    total += new Set(receiver.requests.map((request) => request.headers['webhook-id'])).size;
  }
  return total;
}
