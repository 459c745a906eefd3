/**
 * Measures delivery throughput of one SQLite process and of one, two and three worker
 * processes on one PostgreSQL database, in one run on one machine.
 *
 *   npx tsx bench/pg-scale.ts
 *
 * Each case gets a fresh database and starts its processes. Then it inserts a backlog of
 * deliveries that all become due at one instant. It times how long the receivers take to
 * get every request (sent) and the database to record every result (recorded). Receivers
 * run in this process on 127.0.0.2 and respond 204 after the scenario's delay. PostgreSQL is
 * reached through TEST_POSTGRES_URL as in the tests.
 *
 * Two scenarios: slow receivers, where a worker's in-flight limit bounds its throughput,
 * and instant receivers, where the machine's CPUs do.
 */
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { parseDatabaseUrl } from '../src/config/config.js';
import { migrateToLatest, openDatabase, type Db } from '../src/db/database.js';
import { dialectFor } from '../src/db/dialect/index.js';
import { generateSecret } from '../src/delivery/signature.js';
import { newId } from '../src/ids.js';
import { createTestDatabase } from '../test/helpers/database.js';
import { spawnServer, type ServerProcess } from '../test/helpers/process.js';
import { tempDir } from '../test/helpers/service.js';

const WEBHOOKS = 8;
const RECEIVER_HOST = '127.0.0.2';
/** Time between inserting the backlog and its due time, so every worker is idle at the start. */
const START_DELAY_MS = 1_500;

interface Scenario {
  readonly title: string;
  /** A multiple of WEBHOOKS. */
  readonly deliveries: number;
  readonly delayMs: number;
  /** WEBHOOK_MAX_IN_FLIGHT of each process. */
  readonly maxInFlight: number;
}

const SCENARIOS: readonly Scenario[] = [
  { title: 'Receivers responding after 250 ms', deliveries: 1_280, delayMs: 250, maxInFlight: 16 },
  { title: 'Receivers responding at once', deliveries: 6_400, delayMs: 0, maxInFlight: 64 },
];

interface Case {
  readonly label: string;
  readonly dialect: 'sqlite' | 'postgres';
  readonly workers: number;
}

interface Result {
  readonly label: string;
  readonly sentMs: number;
  readonly recordedMs: number;
  readonly duplicates: number;
}

const CASES: readonly Case[] = [
  { label: 'SQLite, 1 process (role all)', dialect: 'sqlite', workers: 1 },
  { label: 'PostgreSQL, 1 worker', dialect: 'postgres', workers: 1 },
  { label: 'PostgreSQL, 2 workers', dialect: 'postgres', workers: 2 },
  { label: 'PostgreSQL, 3 workers', dialect: 'postgres', workers: 3 },
];

interface Receivers {
  readonly ports: number[];
  /** Distinct deliveries received: one per receiver and webhook-id. */
  count(): number;
  /** Requests that repeated a receiver and webhook-id already seen. */
  duplicates(): number;
  lastAt(): number;
  close(): Promise<void>;
}

/** Receivers that count distinct deliveries and note when the last new one arrived. */
async function startReceivers(delayMs: number): Promise<Receivers> {
  const seen = new Set<string>();
  let duplicates = 0;
  let lastAt = 0;
  const servers: http.Server[] = [];
  for (let n = 0; n < WEBHOOKS; n++) {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const key = `${n} ${String(req.headers['webhook-id'])}`;
        if (seen.has(key)) {
          duplicates += 1;
        } else {
          seen.add(key);
          lastAt = Date.now();
        }
        setTimeout(() => res.writeHead(204).end(), delayMs);
      });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, RECEIVER_HOST, resolve));
    servers.push(server);
  }
  return {
    ports: servers.map((server) => (server.address() as AddressInfo).port),
    count: () => seen.size,
    duplicates: () => duplicates,
    lastAt: () => lastAt,
    async close() {
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
}

async function insertWebhooks(db: Db, ports: readonly number[]): Promise<string[]> {
  const now = Date.now();
  const rows = ports.map((port) => ({
    id: newId('wh'),
    name: `bench ${port}`,
    url: `http://${RECEIVER_HOST}:${port}/hook`,
    event_types: '["submission"]',
    headers: '{}',
    secret: generateSecret(),
    is_active: 1,
    follow_redirects: 0,
    created_by: 'bench',
    created_at: now,
    updated_at: now,
    last_triggered: null,
  }));
  await db.insertInto('webhooks').values(rows).execute();
  return rows.map((row) => row.id);
}

/** Inserts events and deliveries spread evenly over the webhooks, all due at `dueAt`. */
async function insertBacklog(db: Db, webhookIds: readonly string[], deliveries: number, dueAt: number): Promise<void> {
  const now = Date.now();
  const events = deliveries / webhookIds.length;
  await db.transaction().execute(async (trx) => {
    for (let start = 0; start < events; start += 100) {
      const batch = Array.from({ length: Math.min(100, events - start) }, () => {
        const id = newId('evt');
        const payload = JSON.stringify({ id, event: 'submission', timestamp: new Date(now).toISOString() });
        return { id, type: 'submission', payload, request_id: null, created_at: now };
      });
      await trx.insertInto('events').values(batch).execute();
      const deliveries = batch.flatMap((event) =>
        webhookIds.map((webhookId) => ({
          id: newId('dlv'),
          event_id: event.id,
          webhook_id: webhookId,
          status: 'pending' as const,
          attempt_count: 0,
          next_attempt_at: dueAt,
          created_at: now,
          updated_at: now,
          completed_at: null,
        })),
      );
      await trx.insertInto('deliveries').values(deliveries).execute();
    }
  });
}

async function countOpen(db: Db): Promise<number> {
  const row = await db
    .selectFrom('deliveries')
    .select((eb) => eb.fn.countAll<number>().as('open'))
    .where('status', '<>', 'succeeded')
    .executeTakeFirstOrThrow();
  return Number(row.open);
}

async function runCase(scenario: Scenario, benchCase: Case): Promise<Result> {
  const dir = tempDir('webhooks-bench-');
  const database = await createTestDatabase(dir, benchCase.dialect);
  const config = parseDatabaseUrl(database.url, 4);
  const db = openDatabase(config);
  await migrateToLatest(db, dialectFor(config));
  const receivers = await startReceivers(scenario.delayMs);
  const processes: ServerProcess[] = [];

  try {
    const webhookIds = await insertWebhooks(db, receivers.ports);
    const role = benchCase.dialect === 'sqlite' ? 'all' : 'worker';
    for (let n = 0; n < benchCase.workers; n++) {
      const env = workerEnv(database.url, role, scenario.maxInFlight);
      processes.push(await spawnServer(env, path.join(dir, `worker${n}.log`)));
    }

    const dueAt = Date.now() + START_DELAY_MS;
    await insertBacklog(db, webhookIds, scenario.deliveries, dueAt);
    while (receivers.count() < scenario.deliveries) await sleep(20);
    const sentMs = receivers.lastAt() - dueAt;
    while ((await countOpen(db)) > 0) await sleep(20);
    const recordedMs = Date.now() - dueAt;
    return { label: benchCase.label, sentMs, recordedMs, duplicates: receivers.duplicates() };
  } finally {
    await Promise.all(processes.map((server) => server.kill('SIGTERM')));
    await receivers.close();
    await db.destroy();
    await database.drop();
  }
}

function workerEnv(databaseUrl: string, role: string, maxInFlight: number): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: '4',
    SERVICE_ROLE: role,
    LOG_LEVEL: 'info',
    WEBHOOK_ALLOWED_CIDRS: `${RECEIVER_HOST}/32`,
    WEBHOOK_MAX_IN_FLIGHT: String(maxInFlight),
    WEBHOOK_ENDPOINT_CONCURRENCY: String(maxInFlight),
    WEBHOOK_POLL_INTERVAL: '250ms',
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

console.log(
  `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), Node.js ${process.version}, ` +
    `${WEBHOOKS} receivers, load average ${os.loadavg()[0]?.toFixed(1)} at the start`,
);
for (const scenario of SCENARIOS) {
  console.log(
    `\n${scenario.title}: ${scenario.deliveries} deliveries, ` +
      `WEBHOOK_MAX_IN_FLIGHT=${scenario.maxInFlight} per process\n`,
  );
  console.log('| Setup | Sent in | Recorded in | Deliveries/s (recorded) | Sent twice |');
  console.log('|---|---:|---:|---:|---:|');
  for (const benchCase of CASES) {
    const result = await runCase(scenario, benchCase);
    const rate = Math.round((scenario.deliveries / result.recordedMs) * 1000);
    const sent = (result.sentMs / 1000).toFixed(2);
    const recorded = (result.recordedMs / 1000).toFixed(2);
    console.log(`| ${result.label} | ${sent} s | ${recorded} s | ${rate} | ${result.duplicates} |`);
  }
}
console.log(`\nload average ${os.loadavg()[0]?.toFixed(1)} at the end`);
