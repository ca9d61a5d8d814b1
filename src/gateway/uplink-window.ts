// Flow of the ordered stream out of the disk queue: messages go out strictly in seq order, at most
// `size` unacknowledged at a time; after a lost connection everything unacknowledged goes out again from
// the oldest (breakpoint resume keeps each message's seq).
//
// A message the broker refuses (MQTT 5 PUBACK/PUBREC with a reason code >= 0x80: the platform could not
// store it) stays in the disk queue and goes out again after a backoff, with the same seq. Until every
// refused message has been accepted, no *new* message goes out: the resends come first, oldest first,
// so the stream stays in seq order as far as the gateway can keep it (messages already in flight when
// the refusal came cannot be called back; docs/protocol.md "Refused messages").

export interface RetryPolicy {
  /** Delay before the first resend of a refused message (ms). */
  initialMs: number;
  /** The delay doubles per round of refusals up to this bound (ms). */
  maxMs: number;
  /** Fraction of the delay taken off at random (0..1), so many gateways do not resend in step. */
  jitter: number;
}

export const DEFAULT_RETRY_JITTER = 0.2;

export class UplinkWindow {
  private cursor = 0; // seq of the last message handed to MQTT on this connection
  private readonly inflight = new Set<number>();
  /** Refused by the broker, waiting for `retryAt`. */
  private readonly refused = new Set<number>();
  /** Resent after a refusal and not acknowledged yet. */
  private readonly resent = new Set<number>();
  private retryAt: number | undefined;
  /** Rounds of refusals since the stream last recovered: the exponent of the backoff. */
  private rounds = 0;

  constructor(
    private readonly size: number,
    private readonly retry: RetryPolicy = { initialMs: 1000, maxMs: 30_000, jitter: DEFAULT_RETRY_JITTER },
    private readonly random: () => number = Math.random,
  ) {}

  /** How many new messages may be handed out now (none while refused messages are pending). */
  get room(): number {
    if (this.recovering) return 0;
    return Math.max(0, this.size - this.inflight.size);
  }
  get inFlight(): number {
    return this.inflight.size;
  }
  /** Refused messages not yet accepted (waiting for their resend or resent and unacknowledged). */
  get pendingRetries(): number {
    return this.refused.size + this.resent.size;
  }
  /** Next messages to send are those with seq greater than this. */
  get after(): number {
    return this.cursor;
  }

  private get recovering(): boolean {
    return this.refused.size > 0 || this.resent.size > 0;
  }

  sent(seq: number): void {
    this.cursor = Math.max(this.cursor, seq);
    this.inflight.add(seq);
  }

  /** The broker acknowledged (or, at QoS 0, the message was written). */
  acked(seq: number): boolean {
    const wasRefused = this.refused.delete(seq); // another copy (an earlier connection's) got through
    const had = this.inflight.delete(seq) || wasRefused;
    this.resent.delete(seq);
    if (this.refused.size === 0) this.retryAt = undefined;
    // the platform stores again: the next refusal starts from the initial delay
    if (had && !this.recovering) this.rounds = 0;
    return had;
  }

  /**
   * The broker refused the message (reason code >= 0x80). Returns the time of its resend, or undefined
   * when the message was not in flight (a stale answer from an earlier connection).
   */
  rejected(seq: number, now: number): number | undefined {
    if (!this.inflight.delete(seq)) return undefined;
    this.resent.delete(seq);
    this.refused.add(seq);
    // one backoff per round: a whole window refused at once waits once, not 32 times longer
    this.retryAt ??= now + this.delay(this.rounds++);
    return this.retryAt;
  }

  /** When refused messages are due for their resend. */
  nextAt(): number | undefined {
    return this.retryAt;
  }

  /**
   * Refused messages whose backoff has passed, oldest first; they count as sent again (the caller
   * publishes them now, before anything new).
   */
  due(now: number): number[] {
    if (this.retryAt === undefined || now < this.retryAt) return [];
    this.retryAt = undefined;
    const seqs = [...this.refused].sort((a, b) => a - b);
    this.refused.clear();
    for (const seq of seqs) {
      this.inflight.add(seq);
      this.resent.add(seq);
    }
    return seqs;
  }

  /** A dropped message (full-queue policy) can no longer be acknowledged. */
  forget(seq: number): void {
    this.inflight.delete(seq);
    this.refused.delete(seq);
    this.resent.delete(seq);
    if (this.refused.size === 0) this.retryAt = undefined;
  }

  /**
   * The connection is gone: unacknowledged messages must go out again, from the oldest — refused ones
   * included, so their backoff ends here (the reconnect already took time) but its growth is kept.
   */
  reset(): void {
    this.cursor = 0;
    this.inflight.clear();
    this.refused.clear();
    this.resent.clear();
    this.retryAt = undefined;
  }

  /** Doubling from `initialMs`, bounded by `maxMs`, minus up to `jitter` of it at random. */
  private delay(round: number): number {
    const { initialMs, maxMs, jitter } = this.retry;
    const base = Math.min(maxMs, initialMs * 2 ** Math.min(round, 30));
    return Math.round(base * (1 - jitter * this.random()));
  }
}
