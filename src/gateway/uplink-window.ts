// Flow of the ordered stream out of the disk queue: messages go out strictly in seq order, at most
// `size` unacknowledged at a time; after a lost connection everything unacknowledged goes out again from
// the oldest (breakpoint resume keeps each message's seq).

export class UplinkWindow {
  private cursor = 0; // seq of the last message handed to MQTT on this connection
  private readonly inflight = new Set<number>();

  constructor(private readonly size: number) {}

  /** How many messages may be handed out now. */
  get room(): number {
    return Math.max(0, this.size - this.inflight.size);
  }
  get inFlight(): number {
    return this.inflight.size;
  }
  /** Next messages to send are those with seq greater than this. */
  get after(): number {
    return this.cursor;
  }

  sent(seq: number): void {
    this.cursor = Math.max(this.cursor, seq);
    this.inflight.add(seq);
  }

  /** The broker acknowledged (or, at QoS 0, the message was written). */
  acked(seq: number): boolean {
    return this.inflight.delete(seq);
  }

  /** A dropped message (full-queue policy) can no longer be acknowledged. */
  forget(seq: number): void {
    this.inflight.delete(seq);
  }

  /** The connection is gone: unacknowledged messages must go out again, from the oldest. */
  reset(): void {
    this.cursor = 0;
    this.inflight.clear();
  }
}
