// Online status exactly as docs/protocol.md "Heartbeat and online status": a heartbeat sets online = 1 and
// last communication = now; once now − last communication exceeds the valid interval, online = 0.

export type OnlineChange = { online: boolean; at: number } | undefined;

export class OnlineTracker {
  private isOnline = false;
  private last: number | undefined;
  private changed: number | undefined;

  constructor(private readonly validIntervalMs: number) {}

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
