// Periodic reports (docs/protocol.md, `report`): one every interval; each waits for `report-ack` and is
// sent again, unchanged, every ack timeout until acknowledged. Resends start only once the report has
// left the disk queue (the broker acknowledged it), so they never overtake the ordered stream.

export interface ReportLimits {
  intervalMs: number;
  ackTimeoutMs: number;
  maxPending: number;
}

interface Pending {
  seq: number;
  payload: Buffer;
  /** When it was last put on the wire (undefined while still queued). */
  sentAt?: number;
  sends: number;
}

export interface ReportTick {
  /** Time to build a new report. */
  makeReport: boolean;
  /** Reports to publish again now. */
  resend: { seq: number; payload: Buffer }[];
}

export class ReportTracker {
  private nextReportAt: number;
  private readonly pending = new Map<number, Pending>();
  private given = 0;

  constructor(
    private readonly limits: ReportLimits,
    now: number,
  ) {
    this.nextReportAt = now + limits.intervalMs;
  }

  get unacknowledged(): number[] {
    return [...this.pending.keys()];
  }
  /** Reports given up because more than maxPending were waiting. */
  get givenUp(): number {
    return this.given;
  }

  /** A report was queued with this seq and wire payload. */
  onQueued(seq: number, payload: Buffer): void {
    this.pending.set(seq, { seq, payload, sends: 0 });
    while (this.pending.size > this.limits.maxPending) {
      this.pending.delete(this.pending.keys().next().value!);
      this.given++;
    }
  }

  /** The broker acknowledged the publish of this seq (first send or a resend). */
  onPublished(seq: number, now: number): void {
    const p = this.pending.get(seq);
    if (!p) return;
    p.sentAt = now;
    p.sends++;
  }

  /** `report-ack` from the platform. Returns whether it acknowledged a pending report. */
  onAck(seq: number): boolean {
    return this.pending.delete(seq);
  }

  /** `canSend`: the link is usable (online); resends wait while it is not. */
  tick(now: number, canSend: boolean): ReportTick {
    const makeReport = now >= this.nextReportAt;
    if (makeReport) this.nextReportAt = Math.max(this.nextReportAt + this.limits.intervalMs, now + 1);
    const resend: ReportTick['resend'] = [];
    if (canSend)
      for (const p of this.pending.values())
        if (p.sentAt !== undefined && now - p.sentAt >= this.limits.ackTimeoutMs) {
          p.sentAt = now; // the next resend counts from this one
          resend.push({ seq: p.seq, payload: p.payload });
        }
    return { makeReport, resend };
  }

  nextAt(): number {
    let at = this.nextReportAt;
    for (const p of this.pending.values())
      if (p.sentAt !== undefined) at = Math.min(at, p.sentAt + this.limits.ackTimeoutMs);
    return at;
  }
}
