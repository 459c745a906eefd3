import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { AppError } from '../errors.js';

export interface LoginThrottleOptions {
  /** Failed sign-ins for one email before it is locked out. */
  readonly maxFailures: number;
  /** How long a lockout lasts, and how long a failure is remembered. */
  readonly lockoutMs: number;
  /** Called when an email or an address becomes locked out, e.g. to log it. */
  readonly onLockout?: (lockout: {
    kind: 'email' | 'address';
    address: string;
    until: number;
  }) => void;
  readonly now?: () => number;
}

/** A sign-in attempt that the throttle let through. */
export interface LoginAttempt {
  /** Milliseconds to wait before checking the password. */
  readonly delayMs: number;
  /** Ends the attempt; call it once the password check is done, whatever its result. */
  end(): void;
}

interface Counter {
  failures: number;
  firstFailureAt: number;
  lockedUntil: number;
}

/** One address may fail this many times the per-email limit, because offices share addresses. */
export const ADDRESS_LIMIT_FACTOR = 4;
const MAX_DELAY_MS = 2_000;
const DELAY_STEP_MS = 250;

/**
 * Slows down and then locks out repeated failed sign-ins, counted per email and per client
 * address. Unknown emails are counted like existing ones, so the responses never reveal whether
 * an account exists. From half the limit on, each attempt waits 250 ms more (at most 2 s)
 * before its password is checked.
 *
 * The counts are rows of `login_failures`, so they survive a restart and every process on
 * one database shares them. Attempts still running count against the limit too, so that
 * parallel guesses sent to one process cannot overshoot it.
 *
 * NOTE: attempts still running are counted per process. A burst of parallel guesses spread
 * over N processes can pass up to N times a key's remaining allowance before the first
 * failures are recorded. Counting each attempt as a failure in the database when it starts,
 * and taking it back on success, would close that gap.
 */
export class LoginThrottle {
  /** Attempts whose password check is running, by key; they count against the limit. */
  readonly #inFlight = new Map<string, number>();
  readonly #now: () => number;

  constructor(
    private readonly db: Db,
    private readonly options: LoginThrottleOptions,
  ) {
    this.#now = options.now ?? Date.now;
  }

  /**
   * Starts a sign-in attempt. Throws too_many_requests while the email or the address is
   * locked out, or when the attempts already running could reach the limit.
   */
  async begin(email: string, address: string): Promise<LoginAttempt> {
    const limits = [
      { key: emailKey(email), limit: this.options.maxFailures },
      { key: addressKey(address), limit: this.#addressLimit() },
    ];
    const keys = limits.map((entry) => entry.key);
    const counters = await this.#read(keys);
    // The reads are done, so the checks and the reservation below run without a pause in
    // which another attempt of this process could pass the same checks.
    const now = this.#now();
    const lockedUntil = Math.max(...keys.map((key) => counters.get(key)?.lockedUntil ?? 0));
    if (lockedUntil > now) throw tooMany(Math.ceil((lockedUntil - now) / 1000));

    const busy = limits.some(({ key, limit }) => {
      const failures = counters.get(key)?.failures ?? 0;
      return failures + (this.#inFlight.get(key) ?? 0) >= limit;
    });
    if (busy) throw tooMany(1);

    for (const key of keys) this.#inFlight.set(key, (this.#inFlight.get(key) ?? 0) + 1);
    const steps = Math.max(...limits.map(({ key, limit }) => stepsOverHalf(counters.get(key), limit)));
    let ended = false;
    return {
      delayMs: Math.min(MAX_DELAY_MS, steps * DELAY_STEP_MS),
      end: () => {
        if (ended) return;
        ended = true;
        for (const key of keys) {
          const count = (this.#inFlight.get(key) ?? 1) - 1;
          if (count <= 0) this.#inFlight.delete(key);
          else this.#inFlight.set(key, count);
        }
      },
    };
  }

  async recordFailure(email: string, address: string): Promise<void> {
    const now = this.#now();
    if (await this.#increment(emailKey(email), this.options.maxFailures, now)) {
      this.options.onLockout?.({ kind: 'email', address, until: now + this.options.lockoutMs });
    }
    if (await this.#increment(addressKey(address), this.#addressLimit(), now)) {
      this.options.onLockout?.({ kind: 'address', address, until: now + this.options.lockoutMs });
    }
  }

  /**
   * Forgets the email's failures. The address keeps its count, so that signing in to one's
   * own account does not reset a guessing run against others from the same address.
   */
  async recordSuccess(email: string): Promise<void> {
    await this.db.deleteFrom('login_failures').where('key', '=', emailKey(email)).execute();
  }

  /** Deletes the counts that no longer matter; returns how many it deleted. */
  async prune(): Promise<number> {
    const now = this.#now();
    const result = await this.db
      .deleteFrom('login_failures')
      .where('locked_until', '<=', now)
      .where('first_failure_at', '<=', now - this.options.lockoutMs)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  #addressLimit(): number {
    return this.options.maxFailures * ADDRESS_LIMIT_FACTOR;
  }

  /** Reads the counts of `keys` that have not expired. */
  async #read(keys: readonly string[]): Promise<Map<string, Counter>> {
    const rows = await this.db.selectFrom('login_failures').selectAll().where('key', 'in', [...keys]).execute();
    const now = this.#now();
    const counters = new Map<string, Counter>();
    for (const row of rows) {
      const counter = {
        failures: Number(row.failures),
        firstFailureAt: Number(row.first_failure_at),
        lockedUntil: Number(row.locked_until),
      };
      if (!this.#expired(counter, now)) counters.set(row.key, counter);
    }
    return counters;
  }

  /**
   * Counts one failure; returns true when it starts a lockout. Each step is one statement,
   * so processes counting the same key at once neither lose a failure nor both start the
   * lockout.
   */
  async #increment(key: string, limit: number, now: number): Promise<boolean> {
    const lockoutMs = this.options.lockoutMs;
    // An expired count starts over at this failure.
    const expired = sql<boolean>`login_failures.locked_until <= ${now}
      AND login_failures.first_failure_at + ${lockoutMs} <= ${now}`;
    const counted = await this.db
      .insertInto('login_failures')
      .values({ key, failures: 1, first_failure_at: now, locked_until: 0 })
      .onConflict((conflict) =>
        conflict.column('key').doUpdateSet({
          failures: sql<number>`CASE WHEN ${expired} THEN 1 ELSE login_failures.failures + 1 END`,
          first_failure_at: sql<number>`CASE WHEN ${expired} THEN ${now} ELSE login_failures.first_failure_at END`,
        }),
      )
      .returning('failures')
      .executeTakeFirstOrThrow();
    if (Number(counted.failures) < limit) return false;

    const locked = await this.db
      .updateTable('login_failures')
      .set({ locked_until: now + lockoutMs, failures: 0, first_failure_at: now })
      .where('key', '=', key)
      .where('failures', '>=', limit)
      .returning('key')
      .executeTakeFirst();
    return locked !== undefined;
  }

  #expired(counter: Counter, now: number): boolean {
    return counter.lockedUntil <= now && counter.firstFailureAt + this.options.lockoutMs <= now;
  }
}

function stepsOverHalf(counter: Counter | undefined, limit: number): number {
  if (!counter) return 0;
  const half = Math.floor(limit / 2);
  return Math.max(0, counter.failures - half + 1);
}

function tooMany(seconds: number): AppError {
  return new AppError(
    'too_many_requests',
    `Too many failed sign-ins; try again in ${formatWait(seconds)}.`,
    undefined,
    seconds,
  );
}

function emailKey(email: string): string {
  return digest(`email:${email.trim().toLowerCase()}`);
}

function addressKey(address: string): string {
  return digest(`address:${address}`);
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function formatWait(seconds: number): string {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  return `${Math.ceil(seconds / 60)} minutes`;
}
