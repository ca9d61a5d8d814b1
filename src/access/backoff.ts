/**
 * Reconnect delays with "decorrelated jitter" (the AWS architecture blog's variant, also what
 * Mosquitto's bridge uses in src/bridge.c): each delay is random in [base, previous × 3], capped.
 * Spreads the reconnect storm of many proxied clients after a broker restart.
 */
export interface BackoffOptions {
  readonly baseMs: number;
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = Object.freeze({ baseMs: 100, capMs: 5_000 });

export class Backoff {
  private previous: number;
  constructor(
    private readonly options: BackoffOptions = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {
    this.previous = options.baseMs;
  }

  /** The next delay in ms; grows (randomly) until `reset()`. */
  next(): number {
    const { baseMs, capMs } = this.options;
    const upper = Math.max(baseMs, this.previous * 3);
    const delay = Math.min(capMs, baseMs + this.random() * (upper - baseMs));
    this.previous = delay;
    return Math.round(delay);
  }

  /** After a link has been up long enough: start again from the base delay. */
  reset(): void {
    this.previous = this.options.baseMs;
  }
}
