// Which firings have been acted on, by key (firing-key.ts): the first claim of a key wins, a second one
// (the cloud acting on a reading the edge already acted on, reported upstream) is refused. Pure: the
// caller gives the time; keys are forgotten after `ttlMs` (longer than the age past which readings are
// not acted on at all, so a forgotten key can no longer be claimed by a replayed reading) and beyond
// `size` entries, oldest first.

export interface FiringClaim {
  key: string;
  /** Who acted: `local`, or the reporter (`edge:<id>`). */
  by: string;
  at: number;
}

export const DEFAULT_LEDGER_TTL_MS = 600_000;
export const DEFAULT_LEDGER_SIZE = 100_000;

export class FiringLedger {
  // Map keeps insertion order, and claims come in time order: the first entry is the oldest.
  readonly #claims = new Map<string, FiringClaim>();

  constructor(
    private readonly limits: { ttlMs: number; size: number } = {
      ttlMs: DEFAULT_LEDGER_TTL_MS,
      size: DEFAULT_LEDGER_SIZE,
    },
  ) {}

  get size(): number {
    return this.#claims.size;
  }

  /** Claims `key` for `by`; returns the earlier claim instead when there is one (then do not act). */
  claim(key: string, by: string, now: number): FiringClaim | undefined {
    this.#expire(now);
    const earlier = this.#claims.get(key);
    if (earlier) return earlier;
    this.#claims.set(key, { key, by, at: now });
    while (this.#claims.size > this.limits.size) this.#claims.delete(this.#claims.keys().next().value!);
    return undefined;
  }

  /** The claim on `key`, if any and not expired. */
  get(key: string, now: number): FiringClaim | undefined {
    this.#expire(now);
    return this.#claims.get(key);
  }

  #expire(now: number): void {
    for (const [key, claim] of this.#claims) {
      if (now - claim.at <= this.limits.ttlMs) break;
      this.#claims.delete(key);
    }
  }
}
