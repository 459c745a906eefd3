/**
 * Token buckets for per-webhook request rates. A bucket holds up to one second of tokens,
 * so a webhook limited to r requests per second sends at most r at once after a pause.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  /** Takes up to `wanted` tokens and returns how many were granted. */
  take(id: string, ratePerSecond: number, now: number, wanted: number): number {
    const bucket = this.#refill(id, ratePerSecond, now);
    const granted = Math.min(wanted, Math.floor(bucket.tokens));
    bucket.tokens -= granted;
    return granted;
  }

  /** Milliseconds until the bucket contains a whole token again. */
  waitMs(id: string, ratePerSecond: number, now: number): number {
    const bucket = this.#refill(id, ratePerSecond, now);
    if (bucket.tokens >= 1) return 0;
    return Math.ceil(((1 - bucket.tokens) / ratePerSecond) * 1000);
  }

  /** Returns a token that was taken but not used, e.g. when fewer rows were due. */
  giveBack(id: string, count: number): void {
    const bucket = this.#buckets.get(id);
    if (bucket) bucket.tokens += count;
  }

  /** Forgets webhooks that are gone or no longer limited. */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.#buckets.keys()) if (!ids.has(id)) this.#buckets.delete(id);
  }

  #refill(id: string, ratePerSecond: number, now: number) {
    const capacity = Math.max(1, ratePerSecond);
    let bucket = this.#buckets.get(id);
    if (!bucket) {
      bucket = { tokens: capacity, at: now };
      this.#buckets.set(id, bucket);
    }
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * ratePerSecond);
    bucket.at = now;
    return bucket;
  }
}
