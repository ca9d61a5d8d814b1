// Online status exactly as docs/protocol.md "Heartbeat and online status": a heartbeat sets online = 1 and
// last communication = now; once now − last communication exceeds the valid interval, online = 0.

export type OnlineChange = { online: boolean; at: number } | undefined;

/** The valid interval a gateway adopts when its own is too short: 2.5 heartbeat periods, as the default. */
export const VALID_PERIODS = 2.5;

/** `validIntervalMs` was at most the platform's heartbeat period and is replaced by `adoptedMs`. */
export interface IntervalAdapted {
  configuredMs: number;
  heartbeatMs: number;
  adoptedMs: number;
}

export class OnlineTracker {
  private isOnline = false;
  private last: number | undefined;
  private changed: number | undefined;

  private validIntervalMs: number;

  constructor(private readonly configuredMs: number) {
    this.validIntervalMs = configuredMs;
  }

  /** The valid interval in force (the configured one unless `adapt` raised it). */
  get validInterval(): number {
    return this.validIntervalMs;
  }

  /**
   * The platform announced its heartbeat period. A valid interval not longer than that period lapses
   * between two punctual heartbeats, so the gateway would flap offline every period; it adopts 2.5
   * periods instead. Returns what changed (for a warning), or undefined when nothing did.
   */
  adapt(heartbeatMs: number): IntervalAdapted | undefined {
    const wanted =
      this.configuredMs <= heartbeatMs ? Math.ceil(heartbeatMs * VALID_PERIODS) : this.configuredMs;
    if (wanted === this.validIntervalMs) return undefined;
    this.validIntervalMs = wanted;
    return wanted === this.configuredMs
      ? undefined // the period shrank again: the configured interval is fine
      : { configuredMs: this.configuredMs, heartbeatMs, adoptedMs: wanted };
  }

  get online(): boolean {
    return this.isOnline;
  }
  get lastCommunication(): number | undefined {
    return this.last;
  }
  get changedAt(): number | undefined {
    return this.changed;
  }

  /** A heartbeat arrived: online = 1, last communication = now. Returns the change, if any. */
  onHeartbeat(now: number): OnlineChange {
    this.last = now;
    if (this.isOnline) return undefined;
    this.isOnline = true;
    this.changed = now;
    return { online: true, at: now };
  }

  /** Checks the valid interval; returns the change to offline when it has just lapsed. */
  tick(now: number): OnlineChange {
    if (!this.isOnline || this.last === undefined) return undefined;
    if (now - this.last <= this.validIntervalMs) return undefined;
    this.isOnline = false;
    this.changed = now;
    return { online: false, at: now };
  }

  /** The MQTT connection is gone: nothing can be sent, whatever the last heartbeat said. */
  onDisconnect(now: number): OnlineChange {
    if (!this.isOnline) return undefined;
    this.isOnline = false;
    this.changed = now;
    return { online: false, at: now };
  }

  /** When `tick` must run next (the moment the valid interval lapses). */
  nextAt(): number | undefined {
    return this.isOnline && this.last !== undefined ? this.last + this.validIntervalMs + 1 : undefined;
  }
}
