import type { Db } from '../db/database.js';
import type { Logger } from '../observability/logger.js';
import { RateLimiter } from './rate-limiter.js';
import { decideAfterAttempt } from './retry-policy.js';
import type { DeliverySender, SendTarget } from './sender.js';
import { loadEndpointTargets, type EndpointTarget } from './targets.js';
import type { AttemptRecord, ClaimedDelivery, ClaimSlot, DeliveryStore, StoredEvent } from './store.js';

export interface WorkerOptions {
  /** Attempts in flight at once across all webhooks. */
  readonly maxInFlight: number;
  /** Attempts in flight at once for one webhook, unless the webhook sets its own cap. */
  readonly endpointConcurrency: number;
  readonly retryScheduleMs: readonly number[];
  /** Share of each retry delay that is randomised, from 0 to 1. */
  readonly retryJitter?: number;
  readonly random?: () => number;
  /** Whole-attempt timeout; leases last this long plus a margin. */
  readonly timeoutMs: number;
  /** Maximum sleep between checks for due deliveries when nothing wakes the worker. */
  readonly pollIntervalMs?: number;
  /** Time a lease lasts beyond the attempt timeout before another worker may take over. */
  readonly leaseMarginMs?: number;
  readonly now?: () => number;
  /** Called after each attempt whose result is recorded, e.g. to update metrics. */
  readonly onAttempt?: (outcome: AttemptOutcome) => void;
}

/** A finished attempt and the state it left its delivery in. */
export interface AttemptOutcome {
  readonly deliveryId: string;
  readonly webhookId: string;
  readonly eventType: string;
  readonly attemptNumber: number;
  readonly durationMs: number;
  readonly statusCode: number | null;
  readonly errorKind: string | null;
  /** `pending` means a retry is scheduled. */
  readonly status: 'succeeded' | 'pending' | 'failed';
}

const LEASE_MARGIN_MS = 30_000;
const TARGET_REFRESH_MS = 1_000;
const REAP_INTERVAL_MS = 5_000;

/**
 * Sends due deliveries. It claims work from the database in bounded batches, keeps at most
 * `endpointConcurrency` attempts in flight per webhook so a slow receiver ties up only its
 * own slots, and writes results back in batches. A delivery is marked delivering under a
 * lease before it is sent, so after a crash it is sent again (at-least-once).
 */
export class DeliveryWorker {
  readonly #now: () => number;
  readonly #pollMs: number;
  readonly #leaseMs: number;
  readonly #perEndpoint = new Map<string, number>();
  readonly #rates = new RateLimiter();
  #targets = new Map<string, EndpointTarget>();
  #targetsLoadedAt = 0;
  #inFlight = 0;
  #rotation = 0;
  #running = false;
  /** False once stop() has given up on the attempts still in flight. */
  #acceptingResults = true;
  #pumping = false;
  #pumpAgain = false;
  #immediate: NodeJS.Immediate | undefined;
  #timer: NodeJS.Timeout | undefined;
  #reaper: NodeJS.Timeout | undefined;
  #results: AttemptRecord[] = [];
  #flushing: Promise<void> | undefined;
  #idleWaiters: Array<() => void> = [];
  #loopAt = 0;

  constructor(
    private readonly db: Db,
    private readonly store: DeliveryStore,
    private readonly sender: DeliverySender,
    private readonly log: Logger,
    private readonly options: WorkerOptions,
  ) {
    this.#now = options.now ?? Date.now;
    this.#pollMs = options.pollIntervalMs ?? 1_000;
    this.#leaseMs = options.timeoutMs + (options.leaseMarginMs ?? LEASE_MARGIN_MS);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Whether the worker is started, and when its claim loop last ran (epoch ms, 0 if never). */
  get loopState(): { readonly running: boolean; readonly lastLoopAt: number } {
    return { running: this.#running, lastLoopAt: this.#loopAt };
  }

  /** Puts back what a previous run left in flight, then starts sending. */
  async start(): Promise<void> {
    const resumed = await this.store.recoverInFlight(this.#now());
    if (resumed > 0) this.log.warn({ deliveries: resumed }, 'resuming deliveries left in flight by the last run');

    this.#running = true;
    this.#reaper = setInterval(() => void this.#reap(), Math.min(REAP_INTERVAL_MS, this.#leaseMs));
    this.#reaper.unref();
    this.log.info(
      {
        lease_owner: this.store.leaseOwner,
        lease_ms: this.#leaseMs,
        max_in_flight: this.options.maxInFlight,
        endpoint_concurrency: this.options.endpointConcurrency,
      },
      'delivery worker started',
    );
    this.wake();
  }

  /** Looks for due deliveries now, e.g. after new ones were committed. */
  wake(): void {
    if (!this.#running || this.#immediate) return;
    this.#immediate = setImmediate(() => {
      this.#immediate = undefined;
      void this.#pump();
    });
  }

  /** Reloads webhook URLs, headers and secrets before the next claim. */
  webhooksChanged(): void {
    this.#targetsLoadedAt = 0;
    this.wake();
  }

  /**
   * Stops claiming, waits up to `graceMs` for attempts in flight, and writes their results.
   * Attempts still running after the grace period stay leased and are sent again at the
   * next start.
   */
  async stop(graceMs: number): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    clearInterval(this.#reaper);
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#immediate = undefined;

    if (this.#inFlight > 0) {
      this.log.info({ in_flight: this.#inFlight, grace_ms: graceMs }, 'waiting for attempts in flight');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#idleWaiters.push(resolve)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.#acceptingResults = false;
    await this.#flush();
    this.log.info({ abandoned: this.#inFlight }, 'delivery worker stopped');
  }

  async #pump(): Promise<void> {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    this.#loopAt = this.#now();
    try {
      await this.#claimAndSend();
    } catch (error) {
      this.log.error({ err: error }, 'claiming deliveries failed; retrying after the poll interval');
      this.#sleep(this.#pollMs);
    } finally {
      this.#pumping = false;
      if (this.#pumpAgain) {
        this.#pumpAgain = false;
        this.wake();
      }
    }
  }

  async #claimAndSend(): Promise<void> {
    if (!this.#running) return;
    const free = this.options.maxInFlight - this.#inFlight;
    if (free <= 0) return;

    await this.#refreshTargets();
    const now = this.#now();
    const { slots, rateWaitMs } = this.#freeSlots(free, now);
    if (slots.length === 0) {
      // No webhook can take a delivery now. The poll still runs: it finds webhooks created
      // or activated by another process whose notification was lost, and readiness checks
      // that the loop keeps running while no webhook is active.
      this.#sleep(Math.min(rateWaitMs ?? Infinity, this.#pollMs));
      return;
    }

    const claimed = await this.store.claim(slots, free, now, now + this.#leaseMs);
    this.#returnUnusedTokens(slots, claimed);
    let started = 0;
    if (claimed.length > 0) {
      const events = await this.store.loadEvents(claimed.map((row) => row.event_id));
      const orphans: string[] = [];
      for (const row of claimed) {
        const target = this.#targets.get(row.webhook_id);
        const event = events.get(row.event_id);
        if (target && event) {
          this.#startAttempt(row, event, target);
          started += 1;
        } else {
          orphans.push(row.id);
        }
      }
      await this.store.release(orphans, now);
    }

    // Every attempt started wakes the worker when it ends, so only a claim that started
    // none needs to know when the next delivery falls due.
    if (started > 0) return;
    const nextDue = await this.store.nextDueAt();
    if (nextDue !== undefined) {
      // A due row that was not claimed belongs to a busy or inactive webhook: a finishing
      // attempt wakes the worker for the first, the poll covers the second.
      const wait = nextDue > now ? nextDue - now : this.#pollMs;
      this.#sleep(Math.min(wait, this.#pollMs, rateWaitMs ?? Infinity));
    } else {
      this.#sleep(this.#pollMs);
    }
  }

  /**
   * Webhooks with free capacity, starting from a rotating offset so none is always last.
   * A webhook's cap is its own max_in_flight or the default, 1 when it is ordered, and its
   * rate limit takes tokens for the whole slot; unused tokens are returned after the claim.
   */
  #freeSlots(free: number, now: number): { slots: ClaimSlot[]; rateWaitMs: number | undefined } {
    const targets = [...this.#targets.values()];
    const slots: ClaimSlot[] = [];
    let rateWaitMs: number | undefined;
    if (targets.length === 0) return { slots, rateWaitMs };

    const offset = this.#rotation++ % targets.length;
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(offset + i) % targets.length] as EndpointTarget;
      const busy = this.#perEndpoint.get(target.id) ?? 0;
      const cap = target.ordered ? 1 : (target.maxInFlight ?? this.options.endpointConcurrency);
      let limit = Math.min(cap - busy, free);
      if (limit > 0 && target.rateLimit !== null) {
        limit = this.#rates.take(target.id, target.rateLimit, now, limit);
        if (limit === 0) {
          const wait = this.#rates.waitMs(target.id, target.rateLimit, now);
          rateWaitMs = Math.min(rateWaitMs ?? wait, wait);
        }
      }
      if (limit > 0) slots.push({ webhookId: target.id, limit, ordered: target.ordered });
    }
    return { slots, rateWaitMs };
  }

  #returnUnusedTokens(slots: readonly ClaimSlot[], claimed: readonly ClaimedDelivery[]): void {
    const counts = new Map<string, number>();
    for (const row of claimed) counts.set(row.webhook_id, (counts.get(row.webhook_id) ?? 0) + 1);
    for (const slot of slots) {
      const target = this.#targets.get(slot.webhookId);
      if (target?.rateLimit == null) continue;
      const unused = slot.limit - (counts.get(slot.webhookId) ?? 0);
      if (unused > 0) this.#rates.giveBack(slot.webhookId, unused);
    }
  }

  #startAttempt(row: ClaimedDelivery, event: StoredEvent, target: EndpointTarget): void {
    this.#inFlight += 1;
    this.#perEndpoint.set(row.webhook_id, (this.#perEndpoint.get(row.webhook_id) ?? 0) + 1);

    this.#attempt(row, event, target)
      .catch((error: unknown) => {
        // The delivery stays leased and goes back to the queue when the lease expires.
        this.log.error({ err: error, delivery_id: row.id }, 'attempt could not be completed');
      })
      .finally(() => {
        this.#inFlight -= 1;
        const busy = (this.#perEndpoint.get(row.webhook_id) ?? 1) - 1;
        if (busy > 0) this.#perEndpoint.set(row.webhook_id, busy);
        else this.#perEndpoint.delete(row.webhook_id);
        if (this.#inFlight === 0) this.#notifyIdle();
        this.wake();
      });
  }

  async #attempt(row: ClaimedDelivery, event: StoredEvent, target: SendTarget): Promise<void> {
    const attemptNumber = row.attempt_count + 1;
    const { result, startedAt, recordedHeaders } = await this.sender.send(target, event.id, event.payload);
    const finishedAt = this.#now();
    // An attempt cut short by shutdown stays leased and is sent again at the next start.
    if (!this.#acceptingResults) return;
    const decision = decideAfterAttempt(
      {
        scheduleMs: this.options.retryScheduleMs,
        jitter: this.options.retryJitter ?? 0,
        random: this.options.random ?? Math.random,
        now: finishedAt,
      },
      attemptNumber,
      row.next_trigger,
      { failure: result.failure?.kind, statusCode: result.statusCode, retryAfter: result.retryAfter },
    );

    this.#queueResult({
      deliveryId: row.id,
      webhookId: row.webhook_id,
      attemptNumber,
      trigger: row.next_trigger,
      startedAt,
      durationMs: result.durationMs,
      statusCode: result.statusCode,
      errorKind: result.failure?.kind ?? null,
      error: result.failure?.message ?? null,
      requestHeaders: recordedHeaders,
      excerpt: result.excerpt,
      status: decision.status,
      nextAttemptAt: decision.status === 'pending' ? finishedAt + decision.delayMs : null,
      finishedAt,
    });
    this.options.onAttempt?.({
      deliveryId: row.id,
      webhookId: row.webhook_id,
      eventType: event.type,
      attemptNumber,
      durationMs: result.durationMs,
      statusCode: result.statusCode,
      errorKind: result.failure?.kind ?? null,
      status: decision.status,
    });

    const fields = {
      request_id: event.request_id,
      event_id: event.id,
      event_type: event.type,
      delivery_id: row.id,
      webhook_id: row.webhook_id,
      attempt: attemptNumber,
      trigger: row.next_trigger,
      status_code: result.statusCode,
      duration_ms: result.durationMs,
      ...(result.redirects.length > 0 ? { redirects: result.redirects } : {}),
    };
    if (decision.status === 'succeeded') {
      // Every attempt gets an info line so one request id finds the whole story. The line
      // costs about 8% of the CPU time under benchmark load; LOG_LEVEL=warn drops it.
      this.log.info(fields, 'delivery succeeded');
    } else if (decision.status === 'pending') {
      this.log.warn(
        { ...fields, error_kind: result.failure?.kind, error: result.failure?.message, retry_in_ms: decision.delayMs },
        'delivery attempt failed; will retry',
      );
    } else {
      this.log.error(
        { ...fields, error_kind: result.failure?.kind, error: result.failure?.message, reason: decision.reason },
        'delivery failed',
      );
    }
  }

  #queueResult(record: AttemptRecord): void {
    this.#results.push(record);
    if (this.#results.length === 1) setImmediate(() => void this.#flush());
  }

  /** Writes queued results in one transaction; concurrent callers share the write. */
  async #flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#results.length === 0) return;

    const batch = this.#results;
    this.#results = [];
    this.#flushing = this.store.recordAttempts(batch).catch((error: unknown) => {
      // The deliveries stay leased; the reaper returns them to the queue and they are resent.
      this.log.error({ err: error, attempts: batch.length }, 'writing attempt results failed');
    });
    try {
      await this.#flushing;
    } finally {
      this.#flushing = undefined;
    }
    // An ordered webhook's next delivery becomes claimable only once this result is written.
    this.wake();
    if (this.#results.length > 0) setImmediate(() => void this.#flush());
  }

  async #refreshTargets(): Promise<void> {
    const now = this.#now();
    if (now - this.#targetsLoadedAt < TARGET_REFRESH_MS) return;
    this.#targets = await loadEndpointTargets(this.db, now);
    this.#rates.retain(new Set(this.#targets.keys()));
    this.#targetsLoadedAt = now;
  }

  async #reap(): Promise<void> {
    try {
      const count = await this.store.reapExpiredLeases(this.#now());
      if (count > 0) {
        this.log.warn({ deliveries: count }, 'returned deliveries with expired leases to the queue');
        this.wake();
      }
    } catch (error) {
      this.log.error({ err: error }, 'returning expired leases failed');
    }
  }

  #sleep(ms: number): void {
    if (!this.#running) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.wake(), Math.max(ms, 1));
  }

  #notifyIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
