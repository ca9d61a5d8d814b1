/**
 * Rate-limited log lines for expected bad input (malformed packets, refused logins, dropped
 * messages, rejected uplink): a flood of the same complaint must not become a flood of log lines.
 * Each *reason* (a short, fixed key such as `auth-refused` — never a client id, which an attacker
 * chooses) gets at most one line per interval; the first line of the next interval carries
 * `suppressed`, how many lines were left out since the last one written. No stack traces: callers
 * pass `errorText(err)`, not the error, because the input was bad, not the code.
 */
import type { Logger } from 'pino';

export type RateLimitedLevel = 'debug' | 'info' | 'warn' | 'error';

export interface RateLimitedLogOptions {
  /** At most one line per reason per this many ms (default 60 000). */
  intervalMs?: number;
  /** Injectable time source, ms. */
  now?: () => number;
  /** Reasons tracked at once; beyond this the table starts afresh (keys should be a fixed set). */
  maxReasons?: number;
}

interface Window {
  /** When the last line for this reason was written. */
  writtenAt: number;
  /** Lines left out since then. */
  suppressed: number;
}

export class RateLimitedLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #maxReasons: number;
  readonly #windows = new Map<string, Window>();

  constructor(logger: Logger, options: RateLimitedLogOptions = {}) {
    this.#logger = logger;
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    this.#maxReasons = options.maxReasons ?? 1000;
  }

  /**
   * Writes `msg` at `level` unless a line for `reason` was written less than an interval ago (then
   * only counts it). Returns true when the line was written. The level is checked first, so a
   * disabled level costs one comparison and is not counted.
   */
  log(level: RateLimitedLevel, reason: string, fields: Record<string, unknown>, msg: string): boolean {
    if (!this.#logger.isLevelEnabled(level)) return false;
    const now = this.#now();
    const w = this.#windows.get(reason);
    if (w !== undefined && now - w.writtenAt < this.#intervalMs) {
      w.suppressed++;
      return false;
    }
    const suppressed = w?.suppressed ?? 0;
    if (w === undefined) {
      if (this.#windows.size >= this.#maxReasons) this.#windows.clear();
      this.#windows.set(reason, { writtenAt: now, suppressed: 0 });
    } else {
      w.writtenAt = now;
      w.suppressed = 0;
    }
    this.#logger[level](suppressed > 0 ? { reason, ...fields, suppressed } : { reason, ...fields }, msg);
    return true;
  }

  /** Lines counted but not written for `reason` since its last line (for tests and metrics). */
  suppressedFor(reason: string): number {
    return this.#windows.get(reason)?.suppressed ?? 0;
  }
}

/** An error as one short line (its message), for input that was expected to be bad: no stack. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
