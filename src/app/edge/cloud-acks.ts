// What the edge's forward queue waits for (docs/architecture.md "A site"): a data group that asked for
// an acknowledgement stays queued after the cloud broker's PUBACK until the cloud platform's `data-ack`
// names it, as the gateway does (docs/protocol.md "Data acknowledgements"), and goes again — marked as a
// resend — when that does not come in time: a cloud instance that died with it, or no instance
// subscribed when it reached the cloud broker, then loses nothing.
//
// Pure: the caller says what the broker accepted, which `data-ack`s and heartbeats came down; `due(now)`
// names the rows to send again. Rows are the forward queue's ids (a gateway's seq is not unique across
// gateways). The doubling delay per resend is the gateway's own machine (AckTracker).
import { AckTracker } from '../../gateway/ack-tracker.ts';
import { decodeEnvelope } from '../../protocol/envelope.ts';
import { parseGatewayDownTopic, parseGatewayUpTopic } from '../../protocol/gateway-topics.ts';
import type { AckKey } from './forward-queue.ts';

export const DEFAULT_CLOUD_ACK_TIMEOUT_MS = 5000;
export const DEFAULT_CLOUD_ACK_MAX_MS = 30_000;
/**
 * At most this many data groups wait for their `data-ack` at once; the ordered stream pauses meanwhile.
 * It bounds what goes into the void (and is resent) while no cloud instance is subscribed.
 */
export const DEFAULT_MAX_AWAITING = 10_000;

export interface CloudAckLimits {
  /** First wait for a `data-ack` after the PUBACK (ms); doubles per resend of one group up to `maxMs`. */
  timeoutMs: number;
  maxMs: number;
  maxAwaiting: number;
}

/** The key of a queued uplink that waits for a `data-ack`: a data group that asked for one. */
export function ackKeyOf(topic: string, payload: Uint8Array): AckKey | undefined {
  if (parseGatewayUpTopic(topic) === undefined) return undefined;
  try {
    const envelope = decodeEnvelope(payload);
    return envelope.k === 'data' && envelope.ack === true
      ? { gw: envelope.gw, seq: envelope.seq }
      : undefined;
  } catch {
    return undefined; // forwarded as it is; the cloud platform refuses it
  }
}

/** What a downlink from the cloud means to the forward queue (it is passed to the site either way). */
export type CloudDownlink =
  | { kind: 'data-ack'; gw: string; seqs: number[] }
  | { kind: 'heartbeat'; gw: string; acks: readonly string[] | undefined };

export function parseCloudDownlink(topic: string, payload: Uint8Array): CloudDownlink | undefined {
  const gw = parseGatewayDownTopic(topic);
  if (gw === undefined) return undefined;
  try {
    const envelope = decodeEnvelope(payload);
    if (envelope.gw !== gw) return undefined;
    if (envelope.k === 'data-ack') return { kind: 'data-ack', gw, seqs: envelope.acks };
    if (envelope.k === 'heartbeat') return { kind: 'heartbeat', gw, acks: envelope.acks };
  } catch {
    // not ours to judge: the gateway ignores what it cannot read
  }
  return undefined;
}

export class CloudAcks {
  readonly #tracker: AckTracker;
  /** Row id → gateway, for the rows awaiting a `data-ack`. */
  readonly #awaiting = new Map<number, string>();
  /** Gateways whose latest cloud heartbeat offered no data acks (an older cloud platform). */
  readonly #noAcks = new Set<string>();

  constructor(private readonly limits: CloudAckLimits) {
    this.#tracker = new AckTracker({ timeoutMs: limits.timeoutMs, maxMs: limits.maxMs });
  }

  /**
   * Whether a data group of `gw` that asked for an ack waits for it after the PUBACK. Until a cloud
   * heartbeat says otherwise, yes: a resend is harmless (the cloud stores each group once), a group let
   * go on a PUBACK while no instance is subscribed is lost.
   */
  waitsFor(gw: string): boolean {
    return !this.#noAcks.has(gw);
  }

  /** Rows sent and not yet acknowledged. */
  get pending(): number {
    return this.#tracker.pending;
  }

  /** The ordered stream waits until acks free room. */
  get full(): boolean {
    return this.#tracker.pending >= this.limits.maxAwaiting;
  }

  /** The cloud broker accepted this row (first send or resend): its `data-ack` is due within the timeout. */
  accepted(id: number, gw: string, now: number): void {
    this.#awaiting.set(id, gw);
    this.#tracker.accepted(id, now);
  }

  /** Rows a `data-ack` named (already removed from the queue), or dropped by the full-queue policy. */
  forget(ids: readonly number[]): void {
    for (const id of ids) {
      this.#awaiting.delete(id);
      this.#tracker.forget(id);
    }
  }

  /**
   * A cloud heartbeat for `gw`: the last one decides whether its groups wait for acks. When it offers
   * none, the rows of `gw` awaiting an ack are returned: the PUBACK they had is all there is.
   */
  heartbeat(gw: string, acks: readonly string[] | undefined): number[] {
    if (acks?.includes('data') ?? false) {
      this.#noAcks.delete(gw);
      return [];
    }
    this.#noAcks.add(gw);
    const released = [...this.#awaiting].filter(([, g]) => g === gw).map(([id]) => id);
    this.forget(released);
    return released;
  }

  /** Rows whose ack is overdue, oldest first: send each again now (not due again until accepted). */
  due(now: number): number[] {
    return this.#tracker.due(now);
  }

  nextAt(): number | undefined {
    return this.#tracker.nextAt();
  }

  /** The connection is gone: every row still queued goes again, from the oldest, on the next one. */
  clear(): void {
    this.#awaiting.clear();
    this.#tracker.clear();
  }
}
