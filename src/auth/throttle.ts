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

interface Counter {
  failures: number;
  firstFailureAt: number;
  lockedUntil: number;
}

/** One address may fail this many times the per-email limit, because offices share addresses. */
export const ADDRESS_LIMIT_FACTOR = 4;
const MAX_DELAY_MS = 2_000;
const DELAY_STEP_MS = 250;
const MAX_TRACKED_KEYS = 50_000;

/**
 * Slows down and then locks out repeated failed sign-ins, counted per email and per client
 * address. Unknown emails are counted like existing ones, so the responses never reveal whether
 * an account exists. From half the limit on, each attempt waits 250 ms more (at most 2 s)
 * before its password is checked.
 *
 * NOTE: the counters live in this process's memory, so a restart clears them and several
 * processes behind one load balancer each allow the full limit.
 */
export class LoginThrottle {
  readonly #counters = new Map<string, Counter>();
  /** Attempts whose password check is running, by key; they count against the limit. */
  readonly #inFlight = new Map<string, number>();
  readonly #now: () => number;

  constructor(private readonly options: LoginThrottleOptions) {
    this.#now = options.now ?? Date.now;
  }

  /**
   * Starts a sign-in attempt and returns the function that ends it. Throws too_many_requests
   * while the email or the address is locked out, or when the attempts already running could
   * reach the limit, so that parallel guesses cannot overshoot it.
   */
  begin(email: string, address: string): () => void {
    const now = this.#now();
    const limits = [
      { key: emailKey(email), limit: this.options.maxFailures },
      { key: addressKey(address), limit: this.#addressLimit() },
    ];
    const keys = limits.map((entry) => entry.key);
    const lockedUntil = Math.max(...keys.map((key) => this.#counter(key, now)?.lockedUntil ?? 0));
    if (lockedUntil > now) throw tooMany(Math.ceil((lockedUntil - now) / 1000));

    const busy = limits.some(({ key, limit }) => {
      const failures = this.#counter(key, now)?.failures ?? 0;
      return failures + (this.#inFlight.get(key) ?? 0) >= limit;
    });
    if (busy) throw tooMany(1);

    for (const key of keys) this.#inFlight.set(key, (this.#inFlight.get(key) ?? 0) + 1);
    return () => {
      for (const key of keys) {
        const count = (this.#inFlight.get(key) ?? 1) - 1;
        if (count <= 0) this.#inFlight.delete(key);
        else this.#inFlight.set(key, count);
      }
    };
  }

  /** Milliseconds to wait before checking the password of this attempt. */
  delayMs(email: string, address: string): number {
    const now = this.#now();
    const steps = Math.max(
      this.#stepsOverHalf(this.#counter(emailKey(email), now), this.options.maxFailures),
      this.#stepsOverHalf(this.#counter(addressKey(address), now), this.#addressLimit()),
    );
    return Math.min(MAX_DELAY_MS, steps * DELAY_STEP_MS);
  }

  recordFailure(email: string, address: string): void {
    const now = this.#now();
    if (this.#counters.size > MAX_TRACKED_KEYS) this.#prune(now);
    if (this.#increment(emailKey(email), this.options.maxFailures, now)) {
      this.options.onLockout?.({ kind: 'email', address, until: now + this.options.lockoutMs });
    }
    if (this.#increment(addressKey(address), this.#addressLimit(), now)) {
      this.options.onLockout?.({ kind: 'address', address, until: now + this.options.lockoutMs });
    }
  }

  /**
   * Forgets the email's failures. The address keeps its count, so that signing in to one's
   * own account does not reset a guessing run against others from the same address.
   */
  recordSuccess(email: string): void {
    this.#counters.delete(emailKey(email));
  }

  #addressLimit(): number {
    return this.options.maxFailures * ADDRESS_LIMIT_FACTOR;
  }

  #stepsOverHalf(counter: Counter | undefined, limit: number): number {
    if (!counter) return 0;
    const half = Math.floor(limit / 2);
    return Math.max(0, counter.failures - half + 1);
  }

  #counter(key: string, now: number): Counter | undefined {
    const counter = this.#counters.get(key);
    if (counter && this.#expired(counter, now)) {
      this.#counters.delete(key);
      return undefined;
    }
    return counter;
  }

  /** Counts one failure; returns true when it starts a lockout. */
  #increment(key: string, limit: number, now: number): boolean {
    const counter = this.#counter(key, now) ?? { failures: 0, firstFailureAt: now, lockedUntil: 0 };
    counter.failures += 1;
    this.#counters.set(key, counter);
    if (counter.failures < limit) return false;

    counter.lockedUntil = now + this.options.lockoutMs;
    counter.failures = 0;
    counter.firstFailureAt = now;
    return true;
  }

  #expired(counter: Counter, now: number): boolean {
    return counter.lockedUntil <= now && counter.firstFailureAt + this.options.lockoutMs <= now;
  }

  #prune(now: number): void {
    for (const [key, counter] of this.#counters) {
      if (this.#expired(counter, now)) this.#counters.delete(key);
    }
  }
}

function tooMany(seconds: number): AppError {
  return new AppError(
    'too_many_requests',
    `Too many failed sign-ins; try again in ${formatWait(seconds)}.`,
  );
}

function emailKey(email: string): string {
  return `email:${email.trim().toLowerCase()}`;
}

function addressKey(address: string): string {
  return `address:${address}`;
}

function formatWait(seconds: number): string {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  return `${Math.ceil(seconds / 60)} minutes`;
}
