// Failed logins per key (a user name, an address) in a sliding window: past the limit the key is
// refused until its oldest failure leaves the window. Pure: the caller passes the time.

export interface RateLimitOptions {
  /** Failures allowed within the window. */
  max: number;
  windowMs: number;
  /** Keys kept at most; the oldest are forgotten first (bounded memory under a spray of addresses). */
  maxKeys?: number;
}

export class FailureLimiter {
  readonly #failures = new Map<string, number[]>();
  constructor(private readonly options: RateLimitOptions) {}

  /** 0 when `key` may try now, else the milliseconds until it may. */
  retryAfter(key: string, now: number): number {
    const times = this.#recent(key, now);
    if (times.length < this.options.max) return 0;
    return times[times.length - this.options.max]! + this.options.windowMs - now;
  }

  fail(key: string, now: number): void {
    const times = this.#recent(key, now);
    times.push(now);
    this.#failures.delete(key); // re-insert: Map order is then least recently failed first
    this.#failures.set(key, times);
    const maxKeys = this.options.maxKeys ?? 10_000;
    while (this.#failures.size > maxKeys) this.#failures.delete(this.#failures.keys().next().value!);
  }

  reset(key: string): void {
    this.#failures.delete(key);
  }

  #recent(key: string, now: number): number[] {
    const times = (this.#failures.get(key) ?? []).filter((t) => t > now - this.options.windowMs);
    if (times.length === 0) this.#failures.delete(key);
    else this.#failures.set(key, times);
    return times;
  }
}
