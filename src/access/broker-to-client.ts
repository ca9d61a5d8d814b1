import { ReasonCode } from '../protocol/reason-codes.ts';
import { AccessCounters } from './counters.ts';
import type { DedupWindow } from './dedup.ts';
import type { Upstream } from './failover.ts';
import {
  PacketType,
  ackPacketIdOffset,
  ackReasonCode,
  encodeAck,
  publishFingerprint,
  publishPacketIdOffset,
  publishQos,
  readPacketId,
  setDup,
  writePacketId,
} from './frames.ts';
import { PacketIdMap } from './packet-ids.ts';
import type { FlowSink } from './client-to-brokers.ts';

interface DownFlight {
  readonly upstream: Upstream;
  readonly upstreamId: number;
  readonly qos: 1 | 2;
  /** The link it came on is gone: the client's acks have nowhere to go until the broker resends. */
  stale: boolean;
}

/**
 * PUBLISH from the brokers to the client: each copy is checked against the de-duplication window,
 * QoS 1/2 flows get a client-side packet id and the client's acks go back to the broker that sent
 * the message. Copies dropped as duplicates are acknowledged to their broker by the module itself.
 */
export class BrokerToClientFlows {
  private readonly clientIds = new PacketIdMap<DownFlight>();
  private readonly byUpstream: [Map<number, number>, Map<number, number>] = [new Map(), new Map()];

  constructor(
    private readonly sink: FlowSink,
    private readonly dedup: DedupWindow,
    private readonly v5: boolean,
    private readonly counters: AccessCounters = new AccessCounters(),
  ) {}

  get inflight(): number {
    return this.clientIds.size;
  }

  get duplicates(): number {
    return this.dedup.duplicates;
  }

  upstreamPublish(upstream: Upstream, frame: Buffer): void {
    const qos = publishQos(frame);
    if (qos === 0) {
      if (!this.dedup.accept(publishFingerprint(frame, this.v5), upstream)) {
        this.counters.duplicatesDropped++;
        return;
      }
      this.counters.delivered[upstream]++;
      this.sink.sendClient(frame);
      return;
    }
    const offset = publishPacketIdOffset(frame);
    const upstreamId = readPacketId(frame, offset);
    const known = this.byUpstream[upstream].get(upstreamId);
    if (known !== undefined) {
      // The broker sends it again (after a reconnect with session, or DUP): same client id.
      const flight = this.clientIds.get(known);
      if (flight !== undefined) flight.stale = false;
      writePacketId(frame, offset, known);
      setDup(frame, true); // [MQTT-3.3.1-1]
      this.sink.sendClient(frame);
      return;
    }
    if (!this.dedup.accept(publishFingerprint(frame, this.v5), upstream)) {
      this.counters.duplicatesDropped++;
      this.sink.sendUpstream(
        upstream,
        encodeAck(qos === 1 ? PacketType.Puback : PacketType.Pubrec, upstreamId),
      );
      return;
    }
    const clientId = this.clientIds.assign({ upstream, upstreamId, qos, stale: false });
    if (clientId === 0) return; // 65535 unacknowledged at the client: the broker will send it again
    this.byUpstream[upstream].set(upstreamId, clientId);
    this.counters.delivered[upstream]++;
    writePacketId(frame, offset, clientId);
    this.sink.sendClient(frame);
  }

  /** PUBREL from a broker (second half of a QoS 2 delivery). */
  upstreamPubrel(upstream: Upstream, frame: Buffer): void {
    const offset = ackPacketIdOffset(frame);
    const upstreamId = readPacketId(frame, offset);
    const clientId = this.byUpstream[upstream].get(upstreamId);
    const flight = clientId === undefined ? undefined : this.clientIds.get(clientId);
    if (clientId === undefined || flight === undefined) {
      // A copy we dropped as duplicate, or unknown: complete it here [MQTT-4.3.3-11].
      this.byUpstream[upstream].delete(upstreamId);
      this.sink.sendUpstream(upstream, encodeAck(PacketType.Pubcomp, upstreamId));
      return;
    }
    flight.stale = false;
    writePacketId(frame, offset, clientId);
    this.sink.sendClient(frame);
  }

  /** PUBACK / PUBREC / PUBCOMP from the client. */
  clientAck(type: number, frame: Buffer): void {
    const offset = ackPacketIdOffset(frame);
    const clientId = readPacketId(frame, offset);
    const flight = this.clientIds.get(clientId);
    if (flight === undefined) return;
    const ends =
      type === PacketType.Puback ||
      type === PacketType.Pubcomp ||
      (type === PacketType.Pubrec && ackReasonCode(frame) >= ReasonCode.UnspecifiedError);
    if (ends) {
      this.clientIds.release(clientId);
      this.byUpstream[flight.upstream].delete(flight.upstreamId);
    }
    if (flight.stale) return;
    writePacketId(frame, offset, flight.upstreamId);
    this.sink.sendUpstream(flight.upstream, frame);
  }

  /** The link to a broker is gone: acks for its messages are held back (it will resend). */
  upstreamLost(upstream: Upstream): void {
    for (const clientId of this.byUpstream[upstream].values()) {
      const flight = this.clientIds.get(clientId);
      if (flight !== undefined) flight.stale = true;
    }
  }

  /** The broker is back; without its session its old packet ids mean nothing any more. */
  upstreamSession(upstream: Upstream, sessionPresent: boolean): void {
    if (!sessionPresent) this.byUpstream[upstream].clear();
  }
}
