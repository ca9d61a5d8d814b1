// Idempotent commands (docs/protocol.md, `cmd`): the platform resends a command whose feedback is late,
// with the same id. An id already executed is answered from this cache, never executed twice; an id
// still executing is ignored (its result is on the way).

export interface CommandOutcome {
  ok: boolean;
  result?: Record<string, unknown>;
  error?: string;
}

export type CommandDecision =
  { action: 'execute' } | { action: 'cached'; outcome: CommandOutcome } | { action: 'in-progress' };

interface Entry {
  outcome?: CommandOutcome;
  at: number;
}

export class CommandCache {
  // Map keeps insertion order: the first key is the oldest, which makes eviction O(1).
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly limits: { size: number; ttlMs: number }) {}

  get size(): number {
    return this.entries.size;
  }

  begin(id: string, now: number): CommandDecision {
    this.expire(now);
    const entry = this.entries.get(id);
    if (entry?.outcome) return { action: 'cached', outcome: entry.outcome };
    if (entry) return { action: 'in-progress' };
    this.entries.set(id, { at: now });
    while (this.entries.size > this.limits.size) this.entries.delete(this.entries.keys().next().value!);
    return { action: 'execute' };
  }

  complete(id: string, outcome: CommandOutcome, now: number): void {
    this.entries.delete(id); // re-insert so the TTL counts from completion
    this.entries.set(id, { outcome, at: now });
  }

  private expire(now: number): void {
    for (const [id, entry] of this.entries) {
      if (now - entry.at <= this.limits.ttlMs) break;
      this.entries.delete(id);
    }
  }
}
