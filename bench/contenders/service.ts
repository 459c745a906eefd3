import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { parseDatabaseUrl } from '../../src/config/config.js';
import { openDatabase, type Db } from '../../src/db/database.js';
import { recordEvent } from '../../src/events/service.js';
import { key } from '../ledger.js';
import { paceWithLimit } from '../pacer.js';
import { REPORT_FIELDS } from '../payload.js';
import { freePort, ROOT, sleep, spawnNode, waitForExit } from '../processes.js';
import { RECEIVER_HOST } from '../receivers.js';
import type { Contender, ContenderId, OfferResult } from './contender.js';

const ADMIN_EMAIL = 'admin@bench.test';
const ADMIN_PASSWORD = 'benchmark-admin-password';
const EVENT_TYPES = ['submission', 'approval', 'rejection', 'completion'];
const PRELOAD_BATCH = 1_000;

export interface ServiceOptions {
  readonly id: ContenderId;
  /** A SQLite file path or a postgres:// URL; a SQLite file goes in a fresh temporary folder when undefined. */
  readonly databaseUrl?: string;
  readonly cpus: string | undefined;
  readonly timeoutMs: number;
  /** Extra environment, e.g. tuned WEBHOOK_* settings. */
  readonly env?: Record<string, string>;
  readonly variant?: string;
  /** The entry point to start; dist/main.js of this checkout when undefined. */
  readonly mainScript?: string;
  /** Node options for the service process, e.g. --cpu-prof. */
  readonly nodeArgs?: readonly string[];
}

interface ReportSlot {
  readonly id: string;
  /** The transition that creates the next event: submit from DRAFT or REJECTED, reject from PENDING. */
  next: 'submit' | 'reject';
}

/**
 * This service (L on SQLite, P on PostgreSQL), started as a user starts it: the built
 * dist/main.js with environment variables. Events are created through the public API by
 * taking reports through submit and reject, one event per request.
 */
export class ServiceContender implements Contender {
  readonly id: ContenderId;
  readonly durable = true;
  readonly variant: string;
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webhook-bench-'));
  readonly databaseUrl: string;
  #child: ChildProcess | undefined;
  #port = 0;
  #api: Pool | undefined;
  #token = '';
  #urls: readonly string[] = [];
  readonly #webhooks = new Map<number, string>();
  readonly #idle: ReportSlot[] = [];
  #reports = 0;

  constructor(private readonly options: ServiceOptions) {
    this.id = options.id;
    this.variant = options.variant ?? 'as shipped';
    this.databaseUrl = options.databaseUrl ?? path.join(this.dir, 'webhooks.db');
  }

  /** The service's base URL once started. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get logFile(): string {
    return path.join(this.dir, 'service.log');
  }

  async start(urls: readonly string[]): Promise<void> {
    this.#urls = urls;
    this.#port = await freePort();
    this.#api = new Pool(`http://127.0.0.1:${this.#port}`, { connections: 128, keepAliveTimeout: 60_000 });
    await this.launch();
    const signIn = await this.#call('POST', '/api/v1/auth/token', { email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
    this.#token = (signIn.body as { token: string }).token;
  }

  /** Starts the service and resolves once /healthz returns 200; returns the spawn time. */
  async launch(): Promise<number> {
    const spawnedAt = Date.now();
    this.#child = spawnNode(this.options.mainScript ?? path.join(ROOT, 'dist/main.js'), [], {
      cpus: this.options.cpus,
      stdoutFile: this.logFile,
      nodeArgs: this.options.nodeArgs ?? [],
      env: {
        PORT: String(this.#port),
        HOST: '127.0.0.1',
        DATABASE_URL: this.databaseUrl,
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
        WEBHOOK_ALLOWED_CIDRS: `${RECEIVER_HOST}/32`,
        WEBHOOK_TIMEOUT: `${this.options.timeoutMs}ms`,
        LOG_LEVEL: 'info',
        ...this.options.env,
      },
    });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.#child.exitCode !== null) break;
      const healthy = await this.#call('GET', '/healthz').then(
        (response) => response.status === 200,
        () => false,
      );
      if (healthy) return spawnedAt;
      await sleep(20);
    }
    throw new Error(`the service did not respond to /healthz within 30 s; see ${this.logFile}`);
  }

  /** Kills the service with SIGKILL and waits for it to be gone. */
  async crash(): Promise<void> {
    this.#child?.kill('SIGKILL');
    if (this.#child) await waitForExit(this.#child, 5_000);
  }

  async preload(count: number, endpoints: readonly number[]): Promise<Set<string>> {
    await this.#subscribe(endpoints);
    await this.#shutdown();
    const since = Date.now();
    const db = this.#openDb();
    try {
      for (let done = 0; done < count; done += PRELOAD_BATCH) {
        const size = Math.min(PRELOAD_BATCH, count - done);
        await db.transaction().execute(async (trx) => {
          for (let i = 0; i < size; i++) await recordEvent(trx, preloadEvent());
        });
      }
      return await this.#expectedSince(db, since);
    } finally {
      await db.destroy();
    }
  }

  async release(): Promise<void> {
    if (this.#child?.exitCode === null && this.#child.signalCode === null) return;
    await this.launch();
  }

  async prepare(rate: number, endpoints: readonly number[]): Promise<void> {
    await this.release();
    await this.#subscribe(endpoints);
    await this.#ensureReports(Math.min(2_000, Math.max(100, Math.ceil(rate / 4))));
  }

  async offer(rate: number, durationMs: number, endpoints: readonly number[]): Promise<OfferResult> {
    await this.prepare(rate, endpoints);
    const since = Date.now();
    let failures = 0;
    // Each request takes a report of the pool and returns it when done, so the pool's size
    // bounds the requests in flight.
    const events = await paceWithLimit(rate, durationMs, this.#idle.length, async () => {
      const slot = this.#idle.pop() as ReportSlot;
      try {
        if (!(await this.#advance(slot))) failures += 1;
      } catch {
        failures += 1;
      } finally {
        this.#idle.push(slot);
      }
    });

    const db = this.#openDb();
    try {
      return { expected: await this.#expectedSince(db, since), events, failures };
    } finally {
      await db.destroy();
    }
  }

  /**
   * Reads nodejs_eventloop_lag_p99_seconds from GET /metrics. prom-client restarts its delay
   * histogram at every scrape, so the value covers the time since the previous call.
   */
  async eventLoopDelayP99(): Promise<number | undefined> {
    const response = await (this.#api as Pool).request({ path: '/metrics', method: 'GET' }).catch(() => undefined);
    if (!response) return undefined;
    const text = await response.body.text();
    const match = /^nodejs_eventloop_lag_p99_seconds\s+(\S+)$/m.exec(text);
    return match?.[1] === undefined ? undefined : Math.round(Number(match[1]) * 10_000) / 10;
  }

  pids(): number[] {
    const pid = this.#child?.pid;
    return pid === undefined ? [] : [pid];
  }

  async stop(): Promise<void> {
    await this.#shutdown();
    await this.#api?.destroy();
  }

  /**
   * Deletes the SQLite database that the contender created in `dir`, which a long profile
   * grows to gigabytes. The service log stays for reading after the run.
   */
  dispose(): void {
    if (this.options.databaseUrl !== undefined) return;
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(`${this.databaseUrl}${suffix}`, { force: true });
  }

  async #shutdown(): Promise<void> {
    if (!this.#child || this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGTERM');
    await waitForExit(this.#child, this.options.timeoutMs + 5_000);
  }

  /**
   * Deletes the webhooks of endpoints not listed and creates the missing ones. Deactivating
   * is not enough, because the service still writes a skipped delivery per event for an
   * inactive webhook, and the other contenders send nothing for unused endpoints.
   */
  async #subscribe(endpoints: readonly number[]): Promise<void> {
    const wanted = new Set(endpoints);
    for (const [index, id] of this.#webhooks) {
      if (wanted.has(index)) continue;
      const deleted = await this.#call('DELETE', `/api/v1/webhooks/${id}`);
      if (deleted.status !== 204) {
        throw new Error(`deleting webhook ${id} of endpoint ${index} failed with status ${deleted.status}: ${JSON.stringify(deleted.body)}`);
      }
      this.#webhooks.delete(index);
    }
    for (const index of wanted) {
      if (this.#webhooks.has(index)) continue;
      const url = this.#urls[index] as string;
      const created = await this.#call('POST', '/api/v1/webhooks', { name: `endpoint ${index}`, url, event_types: EVENT_TYPES });
      if (created.status !== 201) throw new Error(`creating the webhook for ${url} failed: ${JSON.stringify(created.body)}`);
      this.#webhooks.set(index, (created.body as { id: string }).id);
    }
  }

  async #ensureReports(count: number): Promise<void> {
    while (this.#reports < count) {
      const created = await this.#call('POST', '/api/v1/reports', REPORT_FIELDS);
      if (created.status !== 201) throw new Error(`creating a report failed: ${JSON.stringify(created.body)}`);
      this.#idle.push({ id: (created.body as { id: string }).id, next: 'submit' });
      this.#reports += 1;
    }
  }

  /** Sends the report's next transition; each one commits exactly one event. */
  async #advance(slot: ReportSlot): Promise<boolean> {
    const response =
      slot.next === 'submit'
        ? await this.#call('POST', `/api/v1/reports/${slot.id}/submit`)
        : await this.#call('POST', `/api/v1/reports/${slot.id}/reject`, { reason: 'Benchmark rejection.' });
    if (response.status !== 200) return false;
    slot.next = slot.next === 'submit' ? 'reject' : 'submit';
    return true;
  }

  async #expectedSince(db: Db, since: number): Promise<Set<string>> {
    const rows = await db
      .selectFrom('deliveries')
      .innerJoin('webhooks', 'webhooks.id', 'deliveries.webhook_id')
      .select(['deliveries.event_id', 'webhooks.url'])
      .where('deliveries.created_at', '>=', since)
      .where('webhooks.is_active', '=', 1)
      .execute();
    const index = new Map(this.#urls.map((url, i) => [url, i]));
    return new Set(rows.map((row) => key(index.get(row.url) ?? -1, row.event_id)));
  }

  #openDb(): Db {
    return openDatabase(parseDatabaseUrl(this.databaseUrl));
  }

  async #call(method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = {};
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await (this.#api as Pool).request({
      path: urlPath,
      method: method as 'GET',
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.body.text();
    return { status: response.statusCode, body: text === '' ? null : JSON.parse(text) };
  }
}

function preloadEvent() {
  const now = Date.now();
  const report = { id: `rpt_preload_${now}`, ...REPORT_FIELDS, submitted_by: ADMIN_EMAIL, status: 'PENDING' };
  return { type: 'submission' as const, body: { report }, requestId: null, now, firstDelayMs: 0 };
}
