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

/** A sign-in attempt that the throttle let through, counted as a failure until it ends otherwise. */
export interface LoginAttempt {
  /** Milliseconds to wait before checking the password. */
  readonly delayMs: number;
  /** Keeps the failure counted, and starts a lockout if the count reached the limit. */
  failed(): Promise<void>;
  /** Forgets the email's failures and takes this attempt back from the address's count. */
  succeeded(): Promise<void>;
  /** Takes the attempt back when it ended neither way, e.g. on an internal error. */
  end(): Promise<void>;
}

interface Limit {
  readonly key: string;
  readonly limit: number;
  readonly kind: 'email' | 'address';
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
 * one database shares them. An attempt counts as a failure from its start and is taken back
 * when its password turns out right, so parallel guesses, to one process or to several,
 * cannot pass the limit.
 */
export class LoginThrottle {
  readonly #now: () => number;

  constructor(
    private readonly db: Db,
    private readonly options: LoginThrottleOptions,
  ) {
    this.#now = options.now ?? Date.now;
  }

  /**
   * Starts a sign-in attempt and counts it as a failure of the email and of the address.
   * Throws too_many_requests while either is locked out, or when the attempts already
   * counted reach the limit.
   */
  async begin(email: string, address: string): Promise<LoginAttempt> {
    const limits: Limit[] = [
      { key: emailKey(email), limit: this.options.maxFailures, kind: 'email' },
      { key: addressKey(address), limit: this.#addressLimit(), kind: 'address' },
    ];
    const now = this.#now();
    // One transaction, so an attempt refused for its address takes back its email's count.
    const before = await this.db.transaction().execute(async (trx) => {
      const counts: number[] = [];
      for (const entry of limits) counts.push(await this.#reserve(trx, entry, now));
      return counts;
    });
    const steps = Math.max(...limits.map((entry, index) => stepsOverHalf(before[index] ?? 0, entry.limit)));

    let settled = false;
    const settle = async (outcome: () => Promise<void>): Promise<void> => {
      if (settled) return;
      settled = true;
      await outcome();
    };
    return {
      delayMs: Math.min(MAX_DELAY_MS, steps * DELAY_STEP_MS),
      failed: () =>
        settle(async () => {
          for (const entry of limits) {
            const until = await this.#lockIfFull(entry, this.#now());
            if (until !== undefined) this.options.onLockout?.({ kind: entry.kind, address, until });
          }
        }),
      succeeded: () =>
        settle(async () => {
          const [emailLimit, addressLimit] = limits as [Limit, Limit];
          await this.db.deleteFrom('login_failures').where('key', '=', emailLimit.key).execute();
          await this.#takeBack(addressLimit.key);
        }),
      end: () =>
        settle(async () => {
          for (const entry of limits) await this.#takeBack(entry.key);
        }),
    };
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

  /**
   * Counts one attempt for the key unless it is locked out or full, in one statement, so
   * processes counting the same key at once cannot pass the limit together. Returns the
   * count before this attempt; throws too_many_requests when the attempt is refused.
   */
  async #reserve(trx: Db, { key, limit }: Limit, now: number): Promise<number> {
    const lockoutMs = this.options.lockoutMs;
    // An expired count starts over at this attempt.
    const expired = sql<boolean>`(login_failures.locked_until <= ${now}
      AND login_failures.first_failure_at + ${lockoutMs} <= ${now})`;
    const counted = await trx
      .insertInto('login_failures')
      .values({ key, failures: 1, first_failure_at: now, locked_until: 0 })
      .onConflict((conflict) =>
        conflict
          .column('key')
          .doUpdateSet({
            failures: sql<number>`CASE WHEN ${expired} THEN 1 ELSE login_failures.failures + 1 END`,
            first_failure_at: sql<number>`CASE WHEN ${expired} THEN ${now} ELSE login_failures.first_failure_at END`,
          })
          .where(sql<boolean>`${expired} OR (login_failures.locked_until <= ${now}
            AND login_failures.failures < ${limit})`),
      )
      .returning('failures')
      .executeTakeFirst();
    if (counted !== undefined) return Number(counted.failures) - 1;

    const row = await trx
      .selectFrom('login_failures')
      .select('locked_until')
      .where('key', '=', key)
      .executeTakeFirst();
    const lockedUntil = Number(row?.locked_until ?? 0);
    throw tooMany(lockedUntil > now ? Math.ceil((lockedUntil - now) / 1000) : 1);
  }

  /** Starts a lockout when the count reached the limit; returns its end, or undefined. */
  async #lockIfFull({ key, limit }: Limit, now: number): Promise<number | undefined> {
    const until = now + this.options.lockoutMs;
    // The condition on the count lets only the first of several failures that find it
    // full start the lockout.
    const locked = await this.db
      .updateTable('login_failures')
      .set({ locked_until: until, failures: 0, first_failure_at: now })
      .where('key', '=', key)
      .where('failures', '>=', limit)
      .where('locked_until', '<=', now)
      .returning('key')
      .executeTakeFirst();
    return locked === undefined ? undefined : until;
  }

  /** Takes one counted attempt back from the key. */
  async #takeBack(key: string): Promise<void> {
    await this.db
      .updateTable('login_failures')
      .set({ failures: sql<number>`CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END` })
      .where('key', '=', key)
      .execute();
  }
}

/** Delay steps for an attempt that follows `failures` counted failures. */
function stepsOverHalf(failures: number, limit: number): number {
  const half = Math.floor(limit / 2);
  return Math.max(0, failures - half + 1);
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
