// Which poll requests are due. Each request has its own period; a request that is still running when it
// comes due again is skipped (polls never pile up behind a slow device), and a scheduler that fell
// behind (the process was paused) does not fire a burst to catch up.

export interface PollEntry {
  key: string;
  everyMs: number;
}

export class PollScheduler {
  private readonly next = new Map<string, number>();
  private readonly periods = new Map<string, number>();
  private readonly running = new Set<string>();

  constructor(entries: readonly PollEntry[], now: number) {
    for (const e of entries) {
      this.periods.set(e.key, e.everyMs);
      this.next.set(e.key, now); // first poll at once
    }
  }

  /** Keys due at `now`, marked running; call `done(key)` when each finishes. */
  due(now: number): string[] {
    const out: string[] = [];
    for (const [key, at] of this.next) {
      if (at > now) continue;
      const every = this.periods.get(key)!;
      this.next.set(key, at + every > now ? at + every : now + every);
      if (this.running.has(key)) continue; // still busy from last time: skip this round
      this.running.add(key);
      out.push(key);
    }
    return out;
  }

  done(key: string): void {
    this.running.delete(key);
  }

  /** Runs `key` at the next `due` call (a `poll` command). */
  trigger(key: string, now: number): void {
    if (this.next.has(key)) this.next.set(key, now);
  }

  nextAt(): number | undefined {
    let at: number | undefined;
    for (const t of this.next.values()) at = at === undefined ? t : Math.min(at, t);
    return at;
  }
}
