import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseDatabaseUrl } from '../src/config/config.js';
import { openDatabase, type Db } from '../src/db/database.js';
import { ApiClient } from './helpers/api.js';
import { createTestDatabase, onlyPostgres, type TestDatabase } from './helpers/database.js';
import { spawnServer, type ServerProcess } from './helpers/process.js';
import { eventually, startReceiver, type Receiver } from './helpers/receiver.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, tempDir, testEnv } from './helpers/service.js';

const REPORTS = 100;
const EVENTS_PER_REPORT = 6;
const RECEIVERS = 4;
const PARALLEL_FLOWS = 8;
const KILL_AFTER_REQUESTS = 700;

/** Takes one report through submit, reject, submit, two approvals and completion. */
async function runReportFlow(admin: ApiClient, n: number): Promise<void> {
  const created = await admin.post('/api/v1/reports', {
    type: 'SAT',
    title: `Report ${n}`,
    reference: `SAT-${n}`,
    client: 'Northwind Water',
  });
  assert.equal(created.status, 201);
  const base = `/api/v1/reports/${created.body.id}`;
  for (const [step, body] of [
    ['submit', undefined],
    ['reject', { reason: 'Torque values missing.' }],
    ['submit', undefined],
    ['approve', undefined],
    ['approve', undefined],
    ['complete', undefined],
  ] as const) {
    const response = await admin.post(`${base}/${step}`, body);
    assert.equal(response.status, 200, `${step} of report ${n}: ${JSON.stringify(response.body)}`);
  }
}

async function runFlows(admin: ApiClient, from: number, to: number): Promise<void> {
  let next = from;
  await Promise.all(
    Array.from({ length: PARALLEL_FLOWS }, async () => {
      while (next < to) await runReportFlow(admin, next++);
    }),
  );
}

describe('three workers and an api on one PostgreSQL', onlyPostgres, () => {
  const dir = tempDir('webhooks-multi-');
  let database: TestDatabase;
  let db: Db;
  let api: ServerProcess;
  let workers: ServerProcess[] = [];
  const receivers: Receiver[] = [];
  let env: (role: string) => Record<string, string>;

  before(async () => {
    database = await createTestDatabase(dir, 'postgres');
    db = openDatabase(parseDatabaseUrl(database.url, 2));
    env = (role: string): Record<string, string> =>
      testEnv(dir, {
        DATABASE_URL: database.url,
        DATABASE_POOL_SIZE: '4',
        SERVICE_ROLE: role,
        LOG_LEVEL: 'info',
        // Short enough to keep the test quick, long enough that a busy machine does not let
        // the leases of live workers expire, which would be sent twice as well.
        WEBHOOK_LEASE_MARGIN: '10s',
      });
    api = await spawnServer(env('api'), path.join(dir, 'api.log'));
    for (let n = 0; n < RECEIVERS; n++) {
      receivers.push(await startReceiver(() => ({ status: 204, delayMs: 10 })));
    }
  });
  after(async () => {
    for (const server of [api, ...workers]) {
      if (server && server.child.exitCode === null && server.child.signalCode === null) await server.kill();
    }
    await Promise.all(receivers.map((receiver) => receiver.close()));
    await db?.destroy();
    await database?.drop();
  });

  it('delivers every event after a worker is killed', { timeout: 120_000 }, async (t) => {
    const admin = await ApiClient.signIn(api.url, ADMIN_EMAIL, ADMIN_PASSWORD);
    const receiverOf = new Map<string, Receiver>();
    for (const receiver of receivers) {
      const created = await admin.post('/api/v1/webhooks', {
        name: `Receiver ${receiver.port}`,
        url: receiver.url,
        event_types: ['submission', 'approval', 'rejection', 'completion'],
      });
      assert.equal(created.status, 201);
      receiverOf.set(created.body.id, receiver);
    }

    // A backlog built before the workers start keeps every worker busy at the kill, and
    // the rest of the reports arrive while the workers run.
    await runFlows(admin, 0, REPORTS / 2);
    workers = await Promise.all(
      [1, 2, 3].map((n) => spawnServer(env('worker'), path.join(dir, `worker${n}.log`))),
    );
    const victim = workers[0]!;
    const flows = runFlows(admin, REPORTS / 2, REPORTS);

    const received = () => receivers.reduce((sum, receiver) => sum + receiver.requests.length, 0);
    await eventually(async () => (received() >= KILL_AFTER_REQUESTS ? true : undefined), 60_000, 'deliveries before the kill');
    // The deliveries leased to the victim: sent or about to be sent, result not yet written.
    // The victim is stopped while they are read, so the kill cannot fall between its
    // write-back and its next claim, when it has none.
    const heldByVictim = () =>
      db
        .selectFrom('deliveries')
        .select(['event_id', 'webhook_id'])
        .where('status', '=', 'delivering')
        .where('lease_owner', 'like', `%/${victim.child.pid}/wrk_%`)
        .execute();
    let heldAtKill: Awaited<ReturnType<typeof heldByVictim>> = [];
    for (let tries = 0; heldAtKill.length === 0 && tries < 100; tries++) {
      victim.child.kill('SIGSTOP');
      heldAtKill = await heldByVictim();
      if (heldAtKill.length === 0) {
        victim.child.kill('SIGCONT');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    assert.equal(await victim.kill('SIGKILL'), 'SIGKILL');
    assert.ok(heldAtKill.length > 0, 'the victim had no delivery in flight in 100 looks before the kill');
    const inFlightAtKill = new Set(heldAtKill.map((row) => `${row.webhook_id} ${row.event_id}`));

    await flows;
    const expected = REPORTS * EVENTS_PER_REPORT * RECEIVERS;
    await eventually(
      async () => {
        const open = await db
          .selectFrom('deliveries')
          .select((eb) => eb.fn.countAll<number>().as('count'))
          .where('status', '<>', 'succeeded')
          .executeTakeFirstOrThrow();
        return open.count === 0 ? true : undefined;
      },
      90_000,
      'every delivery to succeed',
    );

    const deliveries = await db.selectFrom('deliveries').select(['event_id', 'webhook_id']).execute();
    assert.equal(deliveries.length, expected);

    // An attempt that timed out after the receiver got the request is retried, which sends
    // it twice as well. With three workers starting on two cores, a response after 10 ms can miss
    // the 2 s timeout.
    const retried = await db
      .selectFrom('delivery_attempts')
      .innerJoin('deliveries', 'deliveries.id', 'delivery_attempts.delivery_id')
      .select(['deliveries.event_id', 'deliveries.webhook_id'])
      .where('delivery_attempts.error_kind', 'is not', null)
      .execute();
    const failedOnce = new Set(retried.map((row) => `${row.webhook_id} ${row.event_id}`));

    let duplicates = 0;
    for (const [webhookId, receiver] of receiverOf) {
      const copies = new Map<string, number>();
      for (const request of receiver.requests) {
        const eventId = JSON.parse(request.body).id as string;
        assert.equal(request.headers['webhook-id'], eventId);
        copies.set(eventId, (copies.get(eventId) ?? 0) + 1);
      }
      for (const row of deliveries.filter((delivery) => delivery.webhook_id === webhookId)) {
        assert.ok((copies.get(row.event_id) ?? 0) >= 1, `event ${row.event_id} never reached ${webhookId}`);
      }
      for (const [eventId, count] of copies) {
        if (count === 1) continue;
        duplicates += 1;
        assert.equal(count, 2, `event ${eventId} reached ${webhookId} ${count} times`);
        const key = `${webhookId} ${eventId}`;
        assert.ok(
          inFlightAtKill.has(key) || failedOnce.has(key),
          `event ${eventId} reached ${webhookId} twice but was neither in flight at the kill nor retried`,
        );
      }
    }
    assert.ok(duplicates <= inFlightAtKill.size + failedOnce.size);
    t.diagnostic(
      `${inFlightAtKill.size} deliveries in flight at the kill, ${failedOnce.size} retried, ${duplicates} sent twice`,
    );
    for (const survivor of workers.slice(1)) assert.equal(survivor.child.exitCode, null);
  });
});
