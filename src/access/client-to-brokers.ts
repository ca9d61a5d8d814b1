import { ReasonCode } from '../protocol/reason-codes.ts';
import { AccessCounters } from './counters.ts';
import type { Upstream } from './failover.ts';
import {
  PacketType,
  ackPacketIdOffset,
  ackReasonCode,
  encodeAck,
  publishPacketIdOffset,
  publishQos,
  readPacketId,
  setDup,
  writePacketId,
} from './frames.ts';
import { PacketIdMap } from './packet-ids.ts';

/** Where the flows send bytes; the session implements it over sockets, tests with arrays. */
export interface FlowSink {
  sendUpstream(upstream: Upstream, frame: Buffer): void;
  sendClient(frame: Buffer): void;
}

const NONE = -1;
/** Upstream ids above this are the session's SUBSCRIBE/UNSUBSCRIBE ids (one id space per link). */
export const LAST_PUBLISH_ID = 64_999;
const Stage = { Sent: 0, Received: 1, Released: 2 } as const;
type Stage = (typeof Stage)[keyof typeof Stage];

interface Flight {
  readonly clientId: number;
  readonly qos: 1 | 2;
  readonly frame: Buffer;
  readonly idOffset: number;
  upstream: Upstream | typeof NONE;
  upstreamId: number;
  stage: Stage;
  /** PUBREC already given to the client (it is not given twice after a failover). */
  receivedForwarded: boolean;
  releasedByClient: boolean;
  /** Left behind on a lost broker: its id stays reserved there, the message itself went elsewhere. */
  orphan?: boolean;
  /** Released on a broker that was then lost: waits for it (see upstreamBack). */
  pinned?: boolean;
  /** PUBREL sent again after the broker's link returned with the session [MQTT-4.4.0-1]. */
  releasedAgain?: boolean;
}

/**
 * PUBLISH from the client to the active broker, with QoS 1/2 flows mapped between the client's
 * packet ids and each upstream's. The client is acknowledged only after an upstream acknowledged
 * (PUBACK, PUBREC, PUBCOMP are the upstream's own, re-addressed). When the active broker is lost:
 * - QoS 1 messages it had not acknowledged, and QoS 2 messages it had not answered with PUBREC, go to
 *   the new active broker (nothing acknowledged is lost). A broker that keeps its session may hold
 *   such a QoS 2 message (its PUBREC lost on the way) waiting for a PUBREL that never comes; its
 *   packet id stays reserved on that link (an "orphan") until the broker shows it forgot the session,
 *   so that a new message is never taken by it for that one [MQTT-4.3.3-9].
 * - QoS 2 messages it answered with PUBREC are its own: a broker may deliver them at PUBLISH (mqiot's)
 *   or at PUBREL (Mosquitto), so sending them elsewhere could deliver them twice. They stay with it
 *   ("pinned") and are finished there — PUBREL again when its link returns with the session
 *   [MQTT-4.4.0-1] — exactly once. Only when it returns without the session, or not within the hold
 *   time, do they go to the active broker (then possibly twice, see docs/access.md).
 */
export class ClientToBrokerFlows {
  private readonly byClientId = new Map<number, Flight>();
  private readonly upstreamIds: [PacketIdMap<Flight>, PacketIdMap<Flight>];
  private readonly waiting: Flight[] = [];
  private current: Upstream | null = null;

  constructor(
    private readonly sink: FlowSink,
    private readonly counters: AccessCounters = new AccessCounters(),
    upstreamReceiveMaximum: readonly [number, number] = [65535, 65535],
  ) {
    this.upstreamIds = [
      new PacketIdMap(upstreamReceiveMaximum[0], 1, LAST_PUBLISH_ID),
      new PacketIdMap(upstreamReceiveMaximum[1], 1, LAST_PUBLISH_ID),
    ];
  }

  /** Messages taken from the client and not yet completed upstream. */
  get inflight(): number {
    return this.byClientId.size;
  }

  get active(): Upstream | null {
    return this.current;
  }

  /** A broker's Receive Maximum [MQTT-3.3.4-7], learned from its CONNACK. */
  setUpstreamLimit(upstream: Upstream, receiveMaximum: number): void {
    const old = this.upstreamIds[upstream];
    if (old.limit === receiveMaximum) return;
    const next = new PacketIdMap<Flight>(receiveMaximum, 1, LAST_PUBLISH_ID);
    for (const f of old.values()) next.set(f.upstreamId, f);
    this.upstreamIds[upstream] = next;
  }

  clientPublish(frame: Buffer): void {
    const qos = publishQos(frame);
    if (qos === 0) {
      if (this.current === null) this.counters.droppedQos0++;
      else {
        this.counters.published[this.current]++;
        this.sink.sendUpstream(this.current, frame);
      }
      return;
    }
    const idOffset = publishPacketIdOffset(frame);
    const clientId = readPacketId(frame, idOffset);
    const known = this.byClientId.get(clientId);
    if (known !== undefined) {
      // The client sent it again (DUP) [MQTT-4.3.3-10]: it is already on its way; repeat our PUBREC.
      if (known.receivedForwarded) this.sink.sendClient(encodeAck(PacketType.Pubrec, clientId));
      return;
    }
    const flight: Flight = {
      clientId,
      qos,
      frame,
      idOffset,
      upstream: NONE,
      upstreamId: 0,
      stage: Stage.Sent,
      receivedForwarded: false,
      releasedByClient: false,
    };
    this.byClientId.set(clientId, flight);
    this.dispatch(flight);
  }

  clientPubrel(frame: Buffer): void {
    const clientId = readPacketId(frame, ackPacketIdOffset(frame));
    const flight = this.byClientId.get(clientId);
    if (flight === undefined) {
      this.sink.sendClient(encodeAck(PacketType.Pubcomp, clientId)); // [MQTT-4.3.3-11] complete anyway
      return;
    }
    flight.releasedByClient = true;
    if (flight.stage === Stage.Received && flight.upstream !== NONE) this.release(flight);
  }

  upstreamAck(upstream: Upstream, type: number, frame: Buffer): void {
    const offset = ackPacketIdOffset(frame);
    const upstreamId = readPacketId(frame, offset);
    const flight = this.upstreamIds[upstream].get(upstreamId);
    if (flight?.orphan) return; // a message that went to the other broker: never released here
    if (flight === undefined) {
      // A PUBREC for a message we no longer track (sent before a reconnect): let the broker finish.
      if (type === PacketType.Pubrec)
        this.sink.sendUpstream(upstream, encodeAck(PacketType.Pubrel, upstreamId));
      return;
    }
    if (type === PacketType.Pubrec && ackReasonCode(frame) < ReasonCode.UnspecifiedError) {
      flight.stage = Stage.Received;
      if (!flight.receivedForwarded) {
        flight.receivedForwarded = true;
        writePacketId(frame, offset, flight.clientId);
        this.sink.sendClient(frame);
      }
      if (flight.releasedByClient) this.release(flight);
      return;
    }
    if (type === PacketType.Pubrel) return; // not a direction brokers use
    // PUBACK, PUBCOMP, or a refusing PUBREC: the flow ends here [MQTT-4.3.3-4].
    this.upstreamIds[upstream].release(upstreamId);
    this.byClientId.delete(flight.clientId);
    this.counters.acknowledged[upstream]++;
    if (flight.releasedAgain && type === PacketType.Pubcomp && ackReasonCode(frame) !== 0) {
      // Our first PUBREL did arrive (the broker finished the message and forgot the id, hence e.g.
      // 0x92): for the client the flow completed normally.
      this.sink.sendClient(encodeAck(PacketType.Pubcomp, flight.clientId));
    } else {
      writePacketId(frame, offset, flight.clientId);
      this.sink.sendClient(frame);
    }
    if (this.waiting.length > 0) this.pump();
  }

  /** The active broker changed (failover, failback, activate, lost). */
  setActive(upstream: Upstream | null): void {
    this.current = upstream;
    if (upstream !== null && this.waiting.length > 0) this.drainWaiting();
  }

  /**
   * An upstream link is gone: whatever it had not completed goes to the active broker (call after
   * `setActive` with the new one), in the order the client sent it — except QoS 2 messages it was
   * sent PUBREL for, which wait for it (see the class comment and `upstreamBack`).
   */
  upstreamLost(upstream: Upstream): void {
    const ids = this.upstreamIds[upstream];
    if (ids.size === 0) return;
    for (const [id, flight] of [...ids.entries()]) {
      if (flight.orphan) continue;
      if (flight.qos === 2 && flight.stage !== Stage.Sent) {
        flight.pinned = true;
        continue;
      }
      if (flight.qos === 2) ids.set(id, { ...flight, orphan: true });
      else ids.release(id);
      flight.upstream = NONE;
      flight.stage = Stage.Sent;
      this.counters.resent++;
      this.dispatch(flight);
    }
  }

  /** QoS 2 messages waiting for this lost broker to return (their PUBREL went to it). */
  pinnedOn(upstream: Upstream): number {
    let n = 0;
    for (const f of this.upstreamIds[upstream].values()) if (f.pinned) n++;
    return n;
  }

  /**
   * The broker's link is back. With its session it still knows the messages it was sent PUBREL for:
   * PUBREL goes again [MQTT-4.4.0-1] and its PUBCOMP completes them. Without it, it forgot them (and
   * the orphans): they go to the active broker.
   */
  upstreamBack(upstream: Upstream, sessionPresent: boolean): void {
    const ids = this.upstreamIds[upstream];
    if (sessionPresent) {
      for (const f of ids.values()) {
        if (!f.pinned) continue;
        f.pinned = false;
        if (f.stage === Stage.Released) f.releasedAgain = true;
        if (f.stage === Stage.Released || f.releasedByClient) this.release(f); // else at the client's PUBREL
      }
      return;
    }
    this.movePinned(upstream);
    // The broker holds nothing under the orphans' ids any more.
    for (const [id, f] of [...ids.entries()]) if (f.orphan) ids.release(id);
  }

  /** The pinned messages of a broker that did not return in time (or forgot them) go to the active one. */
  movePinned(upstream: Upstream): void {
    const ids = this.upstreamIds[upstream];
    const pinned = [...ids.entries()].filter(([, f]) => f.pinned);
    for (const [id, flight] of pinned) {
      ids.release(id);
      flight.pinned = false;
      flight.upstream = NONE;
      flight.stage = Stage.Sent;
      this.counters.resent++;
      this.dispatch(flight);
    }
  }

  private drainWaiting(): void {
    const queue = this.waiting.splice(0);
    for (const flight of queue) this.dispatch(flight);
  }

  private dispatch(flight: Flight): void {
    const target = this.current;
    if (target === null) {
      this.waiting.push(flight);
      return;
    }
    const upstreamId = this.upstreamIds[target].assign(flight);
    if (upstreamId === 0) {
      this.waiting.push(flight); // the broker's Receive Maximum is reached: wait for an ack
      return;
    }
    flight.upstream = target;
    flight.upstreamId = upstreamId;
    flight.stage = Stage.Sent;
    writePacketId(flight.frame, flight.idOffset, upstreamId);
    setDup(flight.frame, false); // first delivery to this broker [MQTT-3.3.1-3]
    this.counters.published[target]++;
    this.sink.sendUpstream(target, flight.frame);
  }

  private release(flight: Flight): void {
    flight.stage = Stage.Released;
    this.sink.sendUpstream(flight.upstream as Upstream, encodeAck(PacketType.Pubrel, flight.upstreamId));
  }

  /** After an ack freed an upstream id: messages held back by the Receive Maximum may go. */
  pump(): void {
    if (this.current !== null && this.waiting.length > 0) this.drainWaiting();
  }
}
