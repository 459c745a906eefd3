import { createHash, timingSafeEqual } from 'node:crypto';
import { sql, type ExpressionBuilder } from 'kysely';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { IS_DELIVERING } from '../delivery/queue-terms.js';
import { countPending } from '../delivery/store.js';
import type { AttemptOutcome } from '../delivery/worker.js';
import { AppError } from '../errors.js';
import type { AdmissionGate } from '../http/admission.js';
import type { App } from '../http/server.js';

/** Upper bounds in seconds; attempts run from a few milliseconds up to WEBHOOK_TIMEOUT. */
const ATTEMPT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The service's Prometheus metrics. Delivery counters follow the worker's attempt
 * notifications. Queue and endpoint gauges are read from the database at scrape time, so
 * they are correct after a restart and with several processes on one database.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly #deliveries: Counter<'outcome' | 'event_type'>;
  readonly #attempts: Counter<'result' | 'event_type'>;
  readonly #retries: Counter<'event_type'>;
  readonly #attemptSeconds: Histogram<'result'>;

  constructor(
    private readonly db: Db,
    admission?: AdmissionGate,
    private readonly now: () => number = Date.now,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#deliveries = new Counter({
      name: 'webhook_deliveries_total',
      help: 'Deliveries that reached a final state, by outcome (succeeded, failed) and event type.',
      labelNames: ['outcome', 'event_type'],
      registers,
    });
    this.#attempts = new Counter({
      name: 'webhook_delivery_attempts_total',
      help: 'HTTP attempts, by result (success, failure) and event type.',
      labelNames: ['result', 'event_type'],
      registers,
    });
    this.#retries = new Counter({
      name: 'webhook_delivery_retries_total',
      help: 'Failed attempts after which another attempt was scheduled.',
      labelNames: ['event_type'],
      registers,
    });
    this.#attemptSeconds = new Histogram({
      name: 'webhook_delivery_attempt_duration_seconds',
      help: 'Duration of HTTP attempts, from connecting to the end of the response.',
      labelNames: ['result'],
      buckets: ATTEMPT_BUCKETS,
      registers,
    });
    this.#registerDatabaseGauges(registers);
    if (admission) registerAdmissionGauges(admission, registers);
  }

  /** Counts one finished attempt; pass this to the delivery worker's `onAttempt`. */
  recordAttempt(outcome: AttemptOutcome): void {
    const result = outcome.status === 'succeeded' ? 'success' : 'failure';
    const eventType = outcome.eventType;
    this.#attempts.inc({ result, event_type: eventType });
    this.#attemptSeconds.observe({ result }, outcome.durationMs / 1000);
    if (outcome.status === 'pending') this.#retries.inc({ event_type: eventType });
    else this.#deliveries.inc({ outcome: outcome.status, event_type: eventType });
  }

  #registerDatabaseGauges(registers: Registry[]): void {
    const db = this.db;
    const now = this.now;
    new Gauge({
      name: 'webhook_queue_depth',
      help: 'Deliveries waiting for an attempt (pending) or with an attempt in flight (delivering).',
      labelNames: ['status'],
      registers,
      async collect() {
        // Each count reads only its own partial index. In-flight rows are bounded by the
        // workers' limits, while the pending backlog may run to millions and is counted in steps.
        const pending = await countPending(db);
        const delivering = await db
          .selectFrom('deliveries')
          .select(countAll)
          .where(IS_DELIVERING)
          .executeTakeFirstOrThrow();
        this.reset();
        this.set({ status: 'pending' }, pending);
        this.set({ status: 'delivering' }, Number(delivering.count));
      },
    });
    new Gauge({
      name: 'webhook_queue_oldest_pending_age_seconds',
      help: 'Seconds since the oldest delivery still pending or delivering was created; 0 when none.',
      registers,
      async collect() {
        // Ids grow with creation time, so each webhook's oldest unfinished delivery is the
        // first entry of its part of deliveries_open: one seek per webhook, not a scan of
        // the backlog.
        const result = await sql<{ oldest: number | string | null }>`
          SELECT min((
            SELECT created_at FROM deliveries
            WHERE deliveries.webhook_id = webhooks.id AND deliveries.status IN ('pending', 'delivering')
            ORDER BY deliveries.id
            LIMIT 1
          )) AS oldest
          FROM webhooks`.execute(db);
        const value = result.rows[0]?.oldest;
        const oldest = value === null || value === undefined ? undefined : Number(value);
        this.set(oldest === undefined ? 0 : Math.max(0, (now() - oldest) / 1000));
      },
    });
    new Gauge({
      name: 'webhook_endpoints_disabled',
      help: 'Inactive webhooks, by cause: automatic (every attempt failed too long) or manual.',
      labelNames: ['cause'],
      registers,
      async collect() {
        const row = await db
          .selectFrom('webhooks')
          .select((eb) => [
            eb.fn.countAll<number>().as('total'),
            eb.fn.count<number>('disabled_reason').as('automatic'),
          ])
          .where('is_active', '=', 0)
          .executeTakeFirstOrThrow();
        const automatic = Number(row.automatic);
        this.set({ cause: 'automatic' }, automatic);
        this.set({ cause: 'manual' }, Number(row.total) - automatic);
      },
    });
  }
}

function registerAdmissionGauges(gate: AdmissionGate, registers: Registry[]): void {
  new Gauge({
    name: 'http_api_requests',
    help: 'API requests whose handlers run (active) or wait for a turn (queued); see API_CONCURRENCY.',
    labelNames: ['state'],
    registers,
    collect() {
      this.set({ state: 'active' }, gate.active);
      this.set({ state: 'queued' }, gate.queued);
    },
  });
  new Counter({
    name: 'http_api_requests_rejected_total',
    help: 'API requests rejected with status 503 because API_QUEUE_LIMIT requests were already waiting.',
    registers,
    collect() {
      this.reset();
      this.inc(gate.rejected);
    },
  });
}

/**
 * Serves GET /metrics in the Prometheus text format. With a token, scrapers must send it as
 * `Authorization: Bearer <token>`; without one the route is open, so bind HOST to a private
 * interface or set METRICS_TOKEN.
 */
export function registerMetricsRoute(
  app: App,
  metrics: ServiceMetrics,
  token: string | undefined,
): void {
  const expected = token === undefined ? undefined : digest(token);
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (expected !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
      if (!match?.[1] || !timingSafeEqual(digest(match[1]), expected)) {
        void reply.header('www-authenticate', 'Bearer');
        throw new AppError(
          'unauthorized',
          'GET /metrics needs the METRICS_TOKEN as a bearer token.',
        );
      }
    }
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
}

/** Hashing both sides gives equal-length buffers, as timingSafeEqual requires. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function countAll(eb: ExpressionBuilder<Database, 'deliveries'>) {
  return eb.fn.countAll<number | string>().as('count');
}
