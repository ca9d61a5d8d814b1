// The ordered uplink stream from the disk queue to the broker: append (with the full-queue policy),
// publish in seq order within the window, resend what the broker refused after a backoff, and — against
// a platform that acknowledges data groups once stored — keep each data group queued until its
// `data-ack`, sending it again when that does not come in time (docs/protocol.md "Data
// acknowledgements"). The machines (UplinkWindow, AckTracker) decide; this file carries it out.
import type { Logger } from 'pino';
import { decodeEnvelope, encodeEnvelope, type Envelope } from '../protocol/envelope.ts';
import { AckTracker } from './ack-tracker.ts';
import { PublishRejectedError } from './broker-link.ts';
import type { TimerClock } from './clock.ts';
import type { GatewayConfig } from './config.ts';
import { Outbox, type OutboxRow } from './outbox.ts';
import type { ReportTracker } from './reports.ts';
import type { GatewayStats } from './status.ts';
import { DEFAULT_RETRY_JITTER, UplinkWindow } from './uplink-window.ts';

/** What the pump needs of the MQTT session. */
export interface UplinkLink {
  /** Connected and online (a heartbeat within the valid interval), and not stopped. */
  usable(): boolean;
  publish(payload: Buffer, qos: 0 | 1 | 2, done: (err?: Error) => void): void;
}

export interface UplinkPumpDeps {
  clock: TimerClock;
  log?: Logger;
  stats: GatewayStats;
  link: UplinkLink;
  reports: ReportTracker;
  /** Something changed the next deadline (a refusal's backoff): re-arm the wake-up timer. */
  wake: () => void;
  random?: () => number;
}

export class UplinkPump {
  readonly outbox: Outbox;
  private readonly window: UplinkWindow;
  private readonly acks: AckTracker;
  /** The latest heartbeat said the platform acknowledges data groups once stored. */
  private platformAcks = false;
  /** Data groups of this process already put on the wire once: a later send is marked `re`. */
  private readonly sentOnce = new Set<number>();
  /** Queued before this process started: may have been delivered by the previous one. */
  private readonly firstSeqOfRun: number;

  constructor(
    private readonly queue: GatewayConfig['queue'],
    private readonly qos: 0 | 1 | 2,
    private readonly deps: UplinkPumpDeps,
  ) {
    this.outbox = new Outbox(queue);
    this.firstSeqOfRun = this.outbox.nextSeq;
    this.window = new UplinkWindow(
      queue.inflight,
      { initialMs: queue.retryMs, maxMs: queue.retryMaxMs, jitter: DEFAULT_RETRY_JITTER },
      deps.random,
    );
    this.acks = new AckTracker({ timeoutMs: queue.ackTimeoutMs, maxMs: queue.retryMaxMs });
  }

  /** Data groups the broker took and the platform has not yet acknowledged. */
  get awaitingAck(): number {
    return this.acks.pending;
  }

  /** Appends one message built for its seq and sends what the window allows. */
  enqueue(kind: string, build: (seq: number) => Envelope): number | undefined {
    const { log } = this.deps;
    const result = this.outbox.append(kind, (seq) => encodeEnvelope(build(seq)));
    if ('refused' in result) {
      log?.warn({ kind, policy: 'drop-newest' }, 'disk queue full: message dropped');
      return undefined;
    }
    if (result.dropped !== undefined) {
      this.window.forget(result.dropped);
      this.acks.forget(result.dropped);
      this.sentOnce.delete(result.dropped);
      log?.warn({ seq: result.dropped, policy: 'drop-oldest' }, 'disk queue full: oldest message dropped');
    }
    if (kind === 'report') this.deps.reports.onQueued(result.seq, result.payload);
    this.pump();
    return result.seq;
  }

  /**
   * Sends while the link is usable: first refused messages whose backoff has passed (oldest first, same
   * seq), then data groups whose ack is overdue, then new ones — the window has no room for new ones
   * while a refused message is not yet accepted.
   */
  pump(): void {
    if (!this.deps.link.usable()) return;
    const now = this.deps.clock.now();
    for (const seq of this.window.due(now)) {
      const row = this.outbox.get(seq);
      if (row) this.publishQueued(row);
      else this.window.forget(seq); // dropped by the full-queue policy meanwhile
    }
    for (const seq of this.acks.due(now)) this.resendUnacked(seq);
    const room = this.window.room;
    if (room === 0) return;
    for (const row of this.outbox.peekAfter(this.window.after, room)) {
      this.window.sent(row.seq);
      this.publishQueued(row);
    }
  }

  /** The next refusal backoff or ack deadline (only while the link is usable: else a reconnect pumps). */
  nextAt(): number | undefined {
    if (!this.deps.link.usable()) return undefined;
    const at = Math.min(this.window.nextAt() ?? Infinity, this.acks.nextAt() ?? Infinity);
    return at === Infinity ? undefined : at;
  }

  /** A heartbeat announced which uplink kinds the platform acknowledges once stored. */
  platformAcknowledges(kinds: readonly string[] | undefined): void {
    const acks = kinds?.includes('data') ?? false;
    if (acks === this.platformAcks) return;
    this.platformAcks = acks;
    if (acks) {
      this.deps.log?.info('the platform acknowledges data groups once stored: keeping each until then');
      return;
    }
    // an older platform (or one of a mixed fleet): the broker's PUBACK is all there is
    let released = 0;
    for (const seq of this.acks.clear()) if (this.release(seq)) released++;
    this.deps.log?.info({ released }, 'the platform does not acknowledge data groups: the PUBACK suffices');
  }

  /** `data-ack`: these data groups are stored; they leave the disk queue. */
  onDataAck(seqs: readonly number[]): void {
    for (const seq of seqs) {
      this.acks.acked(seq);
      if (this.release(seq)) this.deps.stats.groupsAcked++;
    }
  }

  /** The connection is gone: everything unacknowledged goes again, from the oldest, on the next one. */
  connectionLost(): void {
    this.window.reset();
    this.acks.clear();
  }

  close(): void {
    this.outbox.close();
  }

  private release(seq: number): boolean {
    this.sentOnce.delete(seq);
    return this.outbox.remove(seq);
  }

  private publishQueued(row: OutboxRow): void {
    const { clock, log, stats, link, reports } = this.deps;
    link.publish(this.wirePayload(row), this.qos, (err) => {
      if (!this.outbox.isOpen) return;
      if (err instanceof PublishRejectedError) {
        // the platform could not store it: it stays queued and goes again after a backoff
        stats.refused++;
        const at = this.window.rejected(row.seq, clock.now());
        if (at !== undefined) {
          log?.warn(
            {
              seq: row.seq,
              kind: row.kind,
              reasonCode: err.reasonCode,
              retryInMs: at - clock.now(),
              holdingAbove: this.window.after, // newer messages wait until the refused ones are accepted
            },
            'uplink refused by the broker: kept, resent after a backoff',
          );
          this.deps.wake();
        }
        return;
      }
      // connection lost: connectionLost() resets the window and the message goes again (also after a restart)
      if (err) return;
      stats.published++;
      if (row.kind === 'data' && this.platformAcks) {
        // kept until the platform says it is stored (unless its ack has already come)
        if (this.outbox.has(row.seq)) {
          this.acks.accepted(row.seq, clock.now());
          this.deps.wake();
        }
      } else {
        this.release(row.seq);
      }
      if (row.kind === 'report') reports.onPublished(row.seq, clock.now());
      if (this.window.acked(row.seq)) this.pump();
    });
  }

  /** A data group whose ack did not come in time goes again, outside the window (order does not matter). */
  private resendUnacked(seq: number): void {
    const row = this.outbox.get(seq);
    if (!row) return this.acks.forget(seq);
    const { clock, stats, link } = this.deps;
    stats.groupsResent++;
    link.publish(this.wirePayload(row), this.qos, (err) => {
      if (!this.outbox.isOpen) return;
      // accepted, or refused by the broker: wait again (longer); connection lost: the reconnect resends
      if ((!err || err instanceof PublishRejectedError) && this.outbox.has(seq)) {
        this.acks.accepted(seq, clock.now());
        this.deps.wake();
      }
    });
  }

  /**
   * A data group that may have been delivered before (sent once already, or queued by an earlier run)
   * carries `re: true`, so the platform checks its store instead of trusting its in-memory mark.
   */
  private wirePayload(row: OutboxRow): Buffer {
    if (row.kind !== 'data') return row.payload;
    const again = row.seq < this.firstSeqOfRun || this.sentOnce.has(row.seq);
    this.sentOnce.add(row.seq);
    if (!again) return row.payload;
    return encodeEnvelope({ ...decodeEnvelope(row.payload), re: true } as Envelope);
  }
}
