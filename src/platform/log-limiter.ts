// Rate-limited logging for rejected input: a client that sends 20,000 bad messages must not write
// 20,000 log lines. The first occurrence of a reason is logged at once; later ones within the interval
// are only counted, and the next line for that reason says how many were suppressed. Never a stack
// trace: expected bad input is described by its reason and a short message, not by an Error object.
import type { Logger } from 'pino';

export const DEFAULT_LOG_INTERVAL_MS = 60_000;

interface Window {
  until: number;
  suppressed: number;
}

export class LogLimiter {
  readonly #windows = new Map<string, Window>();
  readonly #intervalMs: number;
  readonly #now: () => number;

  constructor(
    private readonly logger: Logger | undefined,
    options: { intervalMs?: number; now?: () => number } = {},
  ) {
    this.#intervalMs = options.intervalMs ?? DEFAULT_LOG_INTERVAL_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Logs `msg` at warn for `reason` at most once per interval; returns true when a line was written. */
  warn(reason: string, fields: Record<string, unknown>, msg: string): boolean {
    const now = this.#now();
    const window = this.#windows.get(reason);
    if (window !== undefined && window.until > now) {
      window.suppressed++;
      return false;
    }
    const suppressed = window?.suppressed ?? 0;
    this.#windows.set(reason, { until: now + this.#intervalMs, suppressed: 0 });
    // bounded: reasons are a fixed vocabulary, but keep the map small if callers pass more
    if (this.#windows.size > 1000) this.#windows.delete(this.#windows.keys().next().value!);
    this.logger?.warn({ reason, ...fields, ...(suppressed > 0 ? { suppressed } : {}) }, msg);
    return true;
  }
}

/** The message of an error for a log line, without its stack. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
