import type { Db } from '../db/database.js';
import type { Logger } from '../observability/logger.js';
import type { Handoff, HandoffLease } from './handoff.js';
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
 * Results written per transaction. A longer transaction holds its row locks longer, and
 * claims, lease reaps and other workers' write-backs wait on them.
 */
const MAX_RESULTS_PER_WRITE = 500;

/**
 * Sends due deliveries. It claims work from the database in bounded batches, keeps at most
 * `endpointConcurrency` attempts in flight per webhook so a slow receiver ties up only its
 * own slots, and writes results back in batches. A delivery is marked delivering under a
 * lease before it is sent, so after a crash it is sent again (at-least-once).
 *
 * A transaction in this process that creates a delivery due at once can hand it over
 * (`openHandoff`). The delivery is then written as delivering under this worker's lease and
 * sent after the commit, with no claim and no second read of its event. Only a webhook
 * whose queue had nothing due at its last claim takes deliveries this way. A handoff
 * therefore does not overtake a backlog or an ordered webhook's queue. It can overtake a
 * retry or redelivery that fell due since that claim, until a claim runs again.
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
  #pumpAgain = false;
  #immediate: NodeJS.Immediate | undefined;
  #timer: NodeJS.Timeout | undefined;
  #reaper: NodeJS.Timeout | undefined;
  /**
   * Webhooks that may take handoffs: the last claim left nothing due in their queue, and no
   * delivery to them has been written as pending since.
   */
  readonly #caughtUp = new Set<string>();
  /** Set when work waited for a free slot under maxInFlight; the next claim clears it. */
  #starved = false;
  /** Slots a running claim may fill, overall and per webhook, which handoffs leave to it. */
  #claimingTotal = 0;
  readonly #claimingPerEndpoint = new Map<string, number>();
  #results: AttemptRecord[] = [];
  /** Deliveries whose attempt is running, which stop() returns to the queue if they outlast its grace period. */
  readonly #attempting = new Set<string>();
  /** Results in the write-back that is running. */
  #writing = 0;
  #flushing: Promise<void> | undefined;
  /** The claim loop's current run, which stop() waits for before the database closes. */
  #pumpRun: Promise<void> | undefined;
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
      this.#pump();
    });
  }

  /**
   * Reloads webhook URLs, headers and secrets before the next claim. A change such as a
   * reactivation can queue deliveries, so no webhook takes handoffs until a claim has run.
   */
  webhooksChanged(): void {
    this.#targetsLoadedAt = 0;
    this.#caughtUp.clear();
    this.wake();
  }

  /**
   * Stops claiming, waits up to `graceMs` for attempts in flight, and writes their results.
   * Deliveries whose attempts still run after the grace period go back to the queue and are
   * sent again, by another worker or at the next start.
   */
  async stop(graceMs: number): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    clearInterval(this.#reaper);
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#immediate = undefined;
    // A claim that is running finishes before the database may close.
    await this.#pumpRun;

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
    const abandoned = [...this.#attempting];
    if (abandoned.length > 0) {
      try {
        await this.store.release(abandoned, this.#now());
      } catch (error) {
        // Their leases expire instead, and the reaper returns them to the queue then.
        this.log.error({ err: error, deliveries: abandoned.length }, 'returning unfinished deliveries to the queue failed');
      }
    }
    this.log.info({ abandoned: abandoned.length }, 'delivery worker stopped');
  }

  #pump(): void {
    if (this.#pumpRun) {
      this.#pumpAgain = true;
      return;
    }
    this.#loopAt = this.#now();
    this.#pumpRun = this.#claimAndSend()
      .catch((error: unknown) => {
        this.log.error({ err: error }, 'claiming deliveries failed; retrying after the poll interval');
        this.#sleep(this.#pollMs);
      })
      .finally(() => {
        this.#pumpRun = undefined;
        if (this.#pumpAgain) {
          this.#pumpAgain = false;
          this.wake();
        }
      });
  }

  async #claimAndSend(): Promise<void> {
    if (!this.#running) return;
    const free = this.#freeCapacity(0);
    if (free <= 0) {
      // An ending attempt or write-back wakes the worker, and the poll covers slots freed otherwise.
      this.#starved = true;
      this.#sleep(this.#pollMs);
      return;
    }
    this.#starved = false;

    await this.#refreshTargets();
    const now = this.#now();
    const { slots, rateWaitMs } = this.#freeSlots(free, now);
    if (slots.length === 0) {
      // No webhook has a free slot, so due rows may wait unseen behind handoffs.
      this.#caughtUp.clear();
      // No webhook can take a delivery now. The poll still runs: it finds webhooks created
      // or activated by another process whose notification was lost, and readiness checks
      // that the loop keeps running while no webhook is active.
      this.#sleep(Math.min(rateWaitMs ?? Infinity, this.#pollMs));
      return;
    }

    const claimed = await this.#claimHoldingSlots(slots, free, now);
    const counts = new Map<string, number>();
    for (const row of claimed) counts.set(row.webhook_id, (counts.get(row.webhook_id) ?? 0) + 1);
    this.#returnUnusedTokens(slots, counts);
    this.#noteCaughtUp(slots, counts, claimed.length < free);
    let started = 0;
    if (claimed.length > 0) {
      const events = await this.store.loadEvents(claimed.map((row) => row.event_id));
      if (!this.#running) {
        // stop() began during the claim, so the rows go back to the queue now rather than when their leases expire.
        await this.store.release(
          claimed.map((row) => row.id),
          now,
        );
        return;
      }
      const orphans: string[] = [];
      for (const row of claimed) {
        const target = this.#targets.get(row.webhook_id);
        const event = events.get(row.event_id);
        if (target && event) {
          this.#reserve(row.webhook_id);
          this.#launch(row, event, target);
          started += 1;
        } else {
          orphans.push(row.id);
        }
      }
      await this.store.release(orphans, now);
    }

    // An attempt that ends wakes the worker when its webhook has more queued, so a claim
    // that started attempts only needs the poll as a fallback.
    if (started > 0) {
      this.#sleep(this.#pollMs);
      return;
    }
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

  #returnUnusedTokens(slots: readonly ClaimSlot[], counts: ReadonlyMap<string, number>): void {
    for (const slot of slots) {
      const target = this.#targets.get(slot.webhookId);
      if (target?.rateLimit == null) continue;
      const unused = slot.limit - (counts.get(slot.webhookId) ?? 0);
      if (unused > 0) this.#rates.giveBack(slot.webhookId, unused);
    }
  }

  /**
   * Records which webhooks' queues this claim emptied of due deliveries: those that got
   * fewer rows than their slot asked for, when the claim's total did not cut them short.
   * Ordered and rate-limited webhooks never take handoffs, so they are never listed.
   */
  #noteCaughtUp(slots: readonly ClaimSlot[], counts: ReadonlyMap<string, number>, underTotal: boolean): void {
    // A webhook without a slot in this claim had none free, so the claim could not see its due rows.
    const inClaim = new Set(slots.map((slot) => slot.webhookId));
    for (const webhookId of this.#caughtUp) if (!inClaim.has(webhookId)) this.#caughtUp.delete(webhookId);
    for (const slot of slots) {
      const target = this.#targets.get(slot.webhookId);
      const drained = underTotal && (counts.get(slot.webhookId) ?? 0) < slot.limit;
      if (drained && target && !target.ordered && target.rateLimit === null) this.#caughtUp.add(slot.webhookId);
      else this.#caughtUp.delete(slot.webhookId);
    }
  }

  /**
   * Opens a handoff for one transaction. The worker takes a delivery when it runs, its
   * webhook targets are fresh, the webhook is caught up, unordered and without a rate limit,
   * and both its cap and maxInFlight leave a slot. The slot is held from `take` until the
   * attempt ends, or until `abandon`.
   */
  openHandoff(): Handoff {
    const handedOver: Array<{ row: ClaimedDelivery; event: StoredEvent; target: EndpointTarget }> = [];
    let settled = false;
    return {
      take: (deliveryId, webhookId, event, now): HandoffLease | undefined => {
        const target = settled ? undefined : this.#handoffTarget(webhookId, now);
        if (target === undefined) {
          // The delivery is written as pending, so the queue is no longer caught up.
          this.#caughtUp.delete(webhookId);
          return undefined;
        }
        this.#reserve(webhookId);
        const row = { id: deliveryId, event_id: event.id, webhook_id: webhookId, attempt_count: 0, next_trigger: 'automatic' as const };
        handedOver.push({ row, event, target });
        return { owner: this.store.leaseOwner, until: now + this.#leaseMs };
      },
      commit: () => {
        if (settled) return;
        settled = true;
        for (const { row, event, target } of handedOver) this.#launch(row, event, target);
      },
      abandon: () => {
        if (settled) return;
        settled = true;
        for (const { row } of handedOver) this.#unreserve(row.webhook_id);
        // A claim may have found no free slot while these were held.
        if (handedOver.length > 0) this.wake();
      },
    };
  }

  /**
   * Runs the claim while handoffs count its slots as taken, so deliveries taken during the
   * query cannot push a webhook past its cap or the worker past maxInFlight.
   */
  async #claimHoldingSlots(slots: readonly ClaimSlot[], free: number, now: number): Promise<ClaimedDelivery[]> {
    const total = Math.min(free, slots.reduce((sum, slot) => sum + slot.limit, 0));
    this.#claimingTotal += total;
    for (const slot of slots) {
      this.#claimingPerEndpoint.set(slot.webhookId, (this.#claimingPerEndpoint.get(slot.webhookId) ?? 0) + slot.limit);
    }
    try {
      return await this.store.claim(slots, free, now, now + this.#leaseMs);
    } finally {
      this.#claimingTotal -= total;
      for (const slot of slots) {
        const left = (this.#claimingPerEndpoint.get(slot.webhookId) ?? 0) - slot.limit;
        if (left > 0) this.#claimingPerEndpoint.set(slot.webhookId, left);
        else this.#claimingPerEndpoint.delete(slot.webhookId);
      }
    }
  }

  #handoffTarget(webhookId: string, now: number): EndpointTarget | undefined {
    if (!this.#running || !this.#caughtUp.has(webhookId)) return undefined;
    if (this.#targetsLoadedAt === 0 || now - this.#targetsLoadedAt >= TARGET_REFRESH_MS) return undefined;
    const target = this.#targets.get(webhookId);
    if (target === undefined || target.ordered || target.rateLimit !== null) return undefined;
    if (this.#freeCapacity(this.#claimingTotal) <= 0) {
      this.#starved = true;
      return undefined;
    }
    const cap = target.maxInFlight ?? this.options.endpointConcurrency;
    const busy = (this.#perEndpoint.get(webhookId) ?? 0) + (this.#claimingPerEndpoint.get(webhookId) ?? 0);
    if (busy >= cap) return undefined;
    return target;
  }

  /**
   * Deliveries this worker may start now, besides `reserved` slots already promised. At most
   * maxInFlight attempts run at once, and at most as many finished attempts wait for their
   * write-back on top of them. Without the second bound, a write-back slower than the
   * receivers let results pile up: each write-back then took longer, its locks held up the
   * claims and lease reaps, and leases expired on deliveries that had already been sent.
   */
  #freeCapacity(reserved: number): number {
    const max = this.options.maxInFlight;
    const busy = this.#inFlight + reserved;
    return Math.min(max - busy, 2 * max - busy - this.#results.length - this.#writing);
  }

  /** Counts an attempt in flight before it starts, so claims and handoffs see its slot taken. */
  #reserve(webhookId: string): void {
    this.#inFlight += 1;
    this.#perEndpoint.set(webhookId, (this.#perEndpoint.get(webhookId) ?? 0) + 1);
  }

  #unreserve(webhookId: string): void {
    this.#inFlight -= 1;
    const busy = (this.#perEndpoint.get(webhookId) ?? 1) - 1;
    if (busy > 0) this.#perEndpoint.set(webhookId, busy);
    else this.#perEndpoint.delete(webhookId);
    if (this.#inFlight === 0) this.#notifyIdle();
  }

  /** Sends a reserved attempt. A worker that stopped meanwhile leaves the delivery leased for the next start. */
  #launch(row: ClaimedDelivery, event: StoredEvent, target: EndpointTarget): void {
    if (!this.#running) {
      this.#unreserve(row.webhook_id);
      return;
    }
    this.#attempting.add(row.id);
    this.#attempt(row, event, target)
      .catch((error: unknown) => {
        // The delivery stays leased and goes back to the queue when the lease expires.
        this.log.error({ err: error, delivery_id: row.id }, 'attempt could not be completed');
      })
      .finally(() => {
        this.#attempting.delete(row.id);
        this.#unreserve(row.webhook_id);
        // The freed slot matters to the claim only when this webhook has more queued, or
        // when other work waited for a slot under maxInFlight.
        if (this.#starved || !this.#caughtUp.has(row.webhook_id)) this.wake();
      });
  }

  async #attempt(row: ClaimedDelivery, event: StoredEvent, target: SendTarget): Promise<void> {
    const attemptNumber = row.attempt_count + 1;
    const { result, startedAt, recordedHeaders } = await this.sender.send(target, event.id, event.payload);
    const finishedAt = this.#now();
    // stop() has returned the delivery of an attempt that outlasted its grace period to the queue.
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

  /**
   * Writes queued results, up to MAX_RESULTS_PER_WRITE per transaction, until none are
   * left. Concurrent callers share the write.
   */
  async #flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#results.length === 0) return;

    const batch = this.#results.splice(0, MAX_RESULTS_PER_WRITE);
    this.#writing = batch.length;
    this.#flushing = this.store.recordAttempts(batch).catch((error: unknown) => {
      // The deliveries stay leased; the reaper returns them to the queue and they are resent.
      this.log.error({ err: error, attempts: batch.length }, 'writing attempt results failed');
    });
    try {
      await this.#flushing;
    } finally {
      this.#flushing = undefined;
      this.#writing = 0;
    }
    // An ordered webhook's next delivery becomes claimable only once its result is written,
    // a scheduled retry needs a claim to find its due time, and a worker held back by
    // unwritten results may claim again.
    if (this.#starved || batch.some((record) => record.status === 'pending' || !this.#caughtUp.has(record.webhookId))) {
      this.wake();
    }
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
