// Data groups the broker has accepted but the platform has not yet acknowledged as stored
// (docs/protocol.md "Data acknowledgements"). The broker's PUBACK only says the broker has the group;
// a platform instance that dies before storing it would lose it when its session is not kept (which is
// what lets the other instances take over at once). So, against a platform that offers `data-ack`, a
// group stays in the disk queue until that ack and goes out again when it does not come in time — to
// whichever instance the broker picks; the platform's store applies it once.
//
// Pure: the caller says when the broker accepted a group and when a `data-ack` came; `due(now)` names
// the groups to send again. The delay doubles per resend of the same group, up to `maxMs`.

export interface AckTimeouts {
  /** How long after the broker accepted a group its `data-ack` may take before it is sent again (ms). */
  timeoutMs: number;
  /** Upper bound of the doubling delay between resends of one group (ms). */
  maxMs: number;
}

interface Awaiting {
  dueAt: number;
  /** Resends so far: the exponent of the delay. */
  resends: number;
}

export class AckTracker {
  private readonly awaiting = new Map<number, Awaiting>();

  constructor(private readonly timeouts: AckTimeouts) {}

  /** Groups accepted by the broker and not yet acknowledged by the platform. */
  get pending(): number {
    return this.awaiting.size;
  }

  has(seq: number): boolean {
    return this.awaiting.has(seq);
  }

  /**
   * The broker accepted this group (first send or a resend): its ack is due within the timeout. A
   * resend keeps its count, so its next wait is longer.
   */
  accepted(seq: number, now: number): void {
    const resends = this.awaiting.get(seq)?.resends ?? 0;
    this.awaiting.set(seq, { dueAt: now + this.delay(resends), resends });
  }

  /** `data-ack` named this group. Returns whether it was awaited. */
  acked(seq: number): boolean {
    return this.awaiting.delete(seq);
  }

  /**
   * Groups whose ack is overdue, oldest first: the caller sends each again now. Until the broker accepts
   * the resend (then `accepted` again) the group is not due a second time.
   */
  due(now: number): number[] {
    const seqs: number[] = [];
    for (const [seq, a] of this.awaiting)
      if (a.dueAt <= now) {
        seqs.push(seq);
        a.resends++;
        a.dueAt = Infinity;
      }
    return seqs.sort((x, y) => x - y);
  }

  /** The earliest time a group becomes overdue. */
  nextAt(): number | undefined {
    let at = Infinity;
    for (const a of this.awaiting.values()) at = Math.min(at, a.dueAt);
    return at === Infinity ? undefined : at;
  }

  /** Dropped from the disk queue (full-queue policy) or released: no longer awaited. */
  forget(seq: number): void {
    this.awaiting.delete(seq);
  }

  /**
   * The connection is gone, or the platform no longer acknowledges: forget everything. (On a reconnect
   * the disk queue sends every group still in it again, from the oldest.)
   */
  clear(): number[] {
    const seqs = [...this.awaiting.keys()];
    this.awaiting.clear();
    return seqs;
  }

  private delay(resends: number): number {
    return Math.min(this.timeouts.maxMs, this.timeouts.timeoutMs * 2 ** Math.min(resends, 30));
  }
}
