/**
 * Channel: the protocol state machine of one MQTT connection (EMQX's emqx_channel idea).
 * Packets come in through `handlePacket`; replies go out through the ChannelOutput. No socket,
 * no real time: the clock and the output are injected, so tests drive it directly.
 * The connection state is checked once here, then each packet type has its own handler.
 */
import mqttPacket, { type Packet } from 'mqtt-packet';
import { FixedHeader } from '../protocol/packet-types.ts';
import { ReasonCode, toConnectReturnCode } from '../protocol/reason-codes.ts';
import type { EngineConnection } from './core.ts';
import type { DeadlineWheel, WheelItem } from './deadline-wheel.ts';
import { ackBytes, encodePublish, type PublishExtras } from './encode.ts';
import { ProtocolViolation, reasonCodeOf } from './errors.ts';
import { handleAuth } from './handlers/auth.ts';
import { handleConnect } from './handlers/connect.ts';
import type { HandlerContext, HandlerEngine } from './handlers/context.ts';
import { handleDisconnect } from './handlers/disconnect.ts';
import { handlePuback, handlePubcomp, handlePubrec, handlePubrel } from './handlers/acks.ts';
import { handlePublish } from './handlers/publish.ts';
import { handleSubscribe } from './handlers/subscribe.ts';
import { handleUnsubscribe } from './handlers/unsubscribe.ts';
import type { Session } from './session.ts';
import {
  ConnectionState,
  type ClientInfo,
  type ConnectionMeta,
  type Message,
  type QoS,
  type Will,
} from './types.ts';

/** What the channel needs from the I/O edge. */
export interface ChannelOutput {
  write(bytes: Buffer): void;
  /** Flush what is buffered, then close. */
  end(): void;
  /** Bytes written but not yet handed to the OS. */
  readonly bufferedBytes: number;
  /** The negotiated protocol version, for the packet parser. */
  setProtocolVersion(version: 3 | 4 | 5): void;
  /**
   * True when the output edge calls `touch()` once per received chunk, so the channel need not
   * read the clock for every packet (keep alive only needs "something arrived").
   */
  readonly marksActivity?: boolean;
  /** Stop / restart reading from the client (flow control towards publishers). */
  pauseReading?(): void;
  resumeReading?(): void;
}

/** What the channel needs from the engine: what its handlers need, and to be told when it closes. */
export interface ChannelEngine extends HandlerEngine {
  channelClosed(conn: EngineConnection, wasConnected: boolean): void;
  /** One timer for every connection's keep alive. */
  readonly keepAliveWheel: DeadlineWheel;
}

const PINGRESP = Buffer.from([FixedHeader.Pingresp, 0x00]);
/** The largest packet MQTT can frame: 1 header byte, 4 length bytes, 268,435,455 bytes (MQTT 5.0 §1.5.5). */
const PROTOCOL_MAX_PACKET_SIZE = 268_435_460;

export class Channel implements HandlerContext, WheelItem {
  state: ConnectionState = ConnectionState.New;
  protocolVersion: 3 | 4 | 5 = 4;
  v5 = false;
  info: ClientInfo;
  session: Session | null = null;
  will: Will | undefined;
  /** Client's Receive Maximum: our outgoing in-flight window. */
  sendQuota: number;
  /**
   * Client's Maximum Packet Size [MQTT-3.1.2-24]; by default the protocol's own limit. (A whole number
   * V8 keeps in the object; Infinity would be a 16-byte heap number per connection.)
   */
  clientMaxPacketSize = PROTOCOL_MAX_PACKET_SIZE;
  /** v5 Request Problem Information (default 1): reason strings allowed on DISCONNECT. */
  problemInformation = true;
  /** Client's Topic Alias Maximum (outbound aliases we may use). */
  clientTopicAliasMax = 0;
  private outAliases: Map<string, number> | undefined;
  /** Inbound topic aliases [MQTT-3.3.2-10..12]; live for this connection only, made on first use. */
  private aliasesIn: Map<number, string> | undefined;
  /** Incoming QoS 1/2 PUBLISHes not yet acknowledged because the store is writing. */
  pendingAcks = 0;
  /**
   * The last acknowledgement still waiting (for the store or a local handler); later ones queue
   * behind it so PUBACKs/PUBRECs leave in the order the PUBLISHes came [MQTT-4.6.0-2], [MQTT-4.6.0-3].
   */
  ackTail: Promise<void> | undefined;
  /** Packets that arrived while an asynchronous authentication was running. */
  pending: Packet[] | undefined;
  /** The CONNECT under enhanced authentication (§4.12), until it finishes. */
  connectPacket: Packet | undefined;
  /** The server assigned the client id (sent back in CONNACK). */
  assignedClientId = false;
  authMethod: string | undefined;
  authStep = 0;
  /** The client sent DISCONNECT (0x00): its will is discarded [MQTT-3.14.4-3]. */
  normalDisconnect = false;
  keepAliveMs = 0;
  private lastSeen: number;
  /** The keep-alive wheel's mark (WheelItem). */
  wheelSlot = 0;

  constructor(
    readonly engine: ChannelEngine,
    readonly out: ChannelOutput,
    meta: ConnectionMeta | { transport: 'local' },
  ) {
    this.sendQuota = engine.options.maxInflightOutgoing;
    this.lastSeen = engine.clock.now();
    this.info = {
      clientId: '',
      username: undefined,
      protocolVersion: 4,
      remoteAddress: 'remoteAddress' in meta ? meta.remoteAddress : undefined,
      transport: meta.transport ?? 'tcp',
    };
  }

  get clientId(): string {
    return this.info.clientId;
  }

  /** Inbound topic aliases, created when a client first uses one (most never do). */
  get inAliases(): Map<number, string> {
    return (this.aliasesIn ??= new Map());
  }

  setProtocolVersion(version: 3 | 4 | 5): void {
    this.protocolVersion = version;
    this.v5 = version === 5;
    this.out.setProtocolVersion(version);
  }

  /** One packet from the codec. Never throws: violations close this connection only. */
  handlePacket(packet: Packet): void {
    if (this.state === ConnectionState.Closed) return;
    if (this.out.marksActivity !== true) this.lastSeen = this.engine.clock.now();
    this.engine.stats.packetsReceived++;
    try {
      this.checkSize(packet);
      this.dispatch(packet);
    } catch (err) {
      this.fail(err);
    }
  }

  private dispatch(packet: Packet): void {
    switch (this.state) {
      case ConnectionState.New:
        // [MQTT-3.1.0-1] the first packet must be CONNECT
        if (packet.cmd !== 'connect')
          throw new ProtocolViolation(ReasonCode.ProtocolError, 'expected CONNECT');
        return handleConnect(this, packet);
      case ConnectionState.Authenticating:
        if (packet.cmd === 'auth' && this.pending === undefined) return handleAuth(this, packet);
        if (this.pending !== undefined && packet.cmd !== 'connect') {
          this.pending.push(packet);
          return;
        }
        throw new ProtocolViolation(ReasonCode.ProtocolError, `${packet.cmd} during authentication`);
    }
    switch (packet.cmd) {
      case 'publish':
        return handlePublish(this, packet);
      case 'puback':
        return handlePuback(this, packet);
      case 'pubrec':
        return handlePubrec(this, packet);
      case 'pubrel':
        return handlePubrel(this, packet);
      case 'pubcomp':
        return handlePubcomp(this, packet);
      case 'subscribe':
        return handleSubscribe(this, packet);
      case 'unsubscribe':
        return handleUnsubscribe(this, packet);
      case 'pingreq':
        this.write(PINGRESP);
        return;
      case 'disconnect':
        return handleDisconnect(this, packet);
      case 'auth':
        return handleAuth(this, packet);
      case 'connect':
        // [MQTT-3.1.0-2] a second CONNECT is a protocol violation
        throw new ProtocolViolation(ReasonCode.ProtocolError, 'second CONNECT');
      default:
        throw new ProtocolViolation(ReasonCode.ProtocolError, `unexpected ${packet.cmd} from a client`);
    }
  }

  /** [MQTT-3.1.2-24] packets larger than our Maximum Packet Size end the connection with 0x95. */
  private checkSize(packet: Packet): void {
    const len = packet.length ?? 0;
    const total = len + 1 + (len < 128 ? 1 : len < 16384 ? 2 : len < 2097152 ? 3 : 4);
    if (total > this.engine.options.maximumPacketSize) {
      throw new ProtocolViolation(ReasonCode.PacketTooLarge, `packet of ${total} bytes`);
    }
  }

  /** Codec error or violation: close this connection with the matching reason code. */
  fail(err: unknown): void {
    const code = reasonCodeOf(err);
    if (err instanceof ProtocolViolation) {
      // bad input, expected from a broken or hostile client: one line per reason code per interval, no stack
      const { clientId, remoteAddress } = this.info;
      this.engine.log.log(
        'info',
        `closed-0x${code.toString(16)}`,
        { clientId, remoteAddress, reasonCode: code, error: err.message },
        'connection closed: bad input from the client',
      );
    } else {
      this.engine.logger.error({ clientId: this.clientId, err, reasonCode: code }, 'closing connection');
    }
    if (this.state === ConnectionState.New || this.state === ConnectionState.Authenticating) {
      if (code === ReasonCode.UnsupportedProtocolVersion) {
        // [MQTT-3.1.2-2] answer with "unacceptable protocol level", in the 3.1.1 format
        this.write(mqttPacket.generate({ cmd: 'connack', returnCode: 1, sessionPresent: false }));
      } else if (this.v5 && this.state === ConnectionState.Authenticating) {
        this.send({ cmd: 'connack', reasonCode: code, sessionPresent: false });
      }
      this.close();
      return;
    }
    // v5: say why, unless the client asked for no problem information
    this.disconnect(code, err instanceof Error && this.problemInformation ? err.message : undefined);
  }

  /** Server-initiated DISCONNECT (v5 only on the wire), then close [MQTT-4.13.2-1]. */
  disconnect(reasonCode: number, reasonString?: string): void {
    if (this.state === ConnectionState.Closed) return;
    if (this.v5 && this.state === ConnectionState.Connected) {
      const packet: Packet = { cmd: 'disconnect', reasonCode };
      // [MQTT-3.14.2-3] no reason string if it could exceed the client's maximum packet size
      if (reasonString !== undefined && this.clientMaxPacketSize >= 64 + 3 * reasonString.length) {
        packet.properties = { reasonString };
      }
      this.send(packet);
    }
    this.close();
  }

  /** Refuses a CONNECT: CONNACK with the reason (v5) or nearest return code (3.1/3.1.1), then close. */
  refuseConnect(reasonCode: number, reasonString?: string): void {
    if (this.v5) {
      const packet: Packet = { cmd: 'connack', reasonCode, sessionPresent: false };
      if (reasonString !== undefined) packet.properties = { reasonString };
      this.send(packet);
    } else {
      this.send({ cmd: 'connack', returnCode: toConnectReturnCode(reasonCode), sessionPresent: false });
    }
    this.close();
  }

  /** Ends the connection and lets the broker run will / session-expiry rules. */
  close(): void {
    if (this.state === ConnectionState.Closed) return;
    const wasConnected = this.state === ConnectionState.Connected;
    this.state = ConnectionState.Closed;
    this.stopKeepAlive();
    this.out.end();
    this.engine.channelClosed(this, wasConnected);
  }

  /** The transport went away (peer closed, error). */
  handleTransportClosed(): void {
    this.close();
  }

  send(packet: Packet): void {
    this.write(mqttPacket.generate(packet, this.v5 ? V5 : V4));
  }

  write(bytes: Buffer): void {
    this.engine.stats.packetsSent++;
    this.out.write(bytes);
  }

  // ---- Holdable: flow control towards this client as a publisher ----

  /** Sessions this client publishes to that are congested; acks wait while > 0. */
  private holds = 0;
  /** Withheld PUBACK/PUBREC as (header byte, packet id) pairs, in arrival order. */
  private deferred: number[] | undefined;
  private readingPaused = false;

  /**
   * A subscriber fed by this client is congested: acknowledgements are withheld, so the
   * client's own in-flight window (v5 Receive Maximum) stops it without losing anything.
   */
  hold(): void {
    this.holds++;
  }

  release(): void {
    if (this.holds > 0 && --this.holds === 0) this.flushAcks();
  }

  /**
   * Sends or withholds an acknowledgement of an incoming QoS 1/2 PUBLISH. A v5 failure reason
   * (>= 0x80) rides in the same queue so withheld acks keep their order [MQTT-4.6.0-2], [MQTT-4.6.0-3].
   */
  ack(header: FixedHeader, id: number, reason: number = ReasonCode.Success): void {
    if (this.holds === 0 && this.deferred === undefined) {
      this.write(ackBytes(header, id, reason));
      return;
    }
    // the reason travels in the header slot's upper byte: one number per field, no object per ack
    (this.deferred ??= []).push(header | (reason << 8), id);
    // QoS 2 ids already count as in flight (session.incomingQoS2); QoS 1 ones count here
    if (header === FixedHeader.Puback) this.pendingAcks++;
    // a client that ignores flow control (3.1.1 has no Receive Maximum) is no longer read
    if (!this.readingPaused && this.deferred.length >= 2 * this.engine.options.receiveMaximum) {
      this.readingPaused = true;
      this.out.pauseReading?.();
    }
  }

  private flushAcks(): void {
    const list = this.deferred;
    this.deferred = undefined;
    if (list !== undefined && this.state === ConnectionState.Connected) {
      for (let i = 0; i < list.length; i += 2) {
        const header = list[i]! & 0xff;
        if (header === FixedHeader.Puback) this.pendingAcks--;
        this.write(ackBytes(header, list[i + 1]!, list[i]! >> 8));
      }
    }
    if (this.readingPaused) {
      this.readingPaused = false;
      this.out.resumeReading?.();
    }
  }

  // ---- SessionLink ----

  isBackedUp(): boolean {
    return this.out.bufferedBytes > this.engine.options.maxSocketBuffer;
  }

  writePublish(
    message: Message,
    qos: QoS,
    retain: boolean,
    packetId: number,
    subscriptionIds: number[],
    dup: boolean,
  ): boolean {
    let extras: PublishExtras | undefined;
    let newAlias = false;
    if (this.v5) {
      const ids = subscriptionIds.length > 0 ? subscriptionIds : NO_IDS;
      let alias = 0;
      let omitTopic = false;
      if (this.clientTopicAliasMax > 0) {
        const aliases = (this.outAliases ??= new Map());
        const known = aliases.get(message.topic);
        if (known !== undefined) {
          alias = known;
          omitTopic = true;
        } else if (aliases.size < this.clientTopicAliasMax) {
          alias = aliases.size + 1;
          aliases.set(message.topic, alias);
          newAlias = true;
        }
      }
      if (ids !== NO_IDS || alias !== 0) extras = { subscriptionIds: ids, topicAlias: alias, omitTopic };
    }
    const now = message.expiresAt === 0 ? 0 : this.engine.clock.now();
    const bytes = encodePublish(message, this.v5, qos, retain, packetId, dup, now, extras);
    if (bytes.length > this.clientMaxPacketSize) {
      // [MQTT-3.1.2-25] too large for the client: discard as if delivered; an alias it never
      // saw must not be used later
      if (newAlias) this.outAliases!.delete(message.topic);
      this.engine.stats.publishDropped++;
      return false;
    }
    this.engine.stats.messagesSent++;
    this.engine.stats.publishSent++;
    this.write(bytes);
    return true;
  }

  writePubrel(packetId: number): void {
    this.write(ackBytes(FixedHeader.Pubrel, packetId, ReasonCode.Success));
  }

  // ---- keep alive ----

  /** Bytes arrived from the client (called by the I/O edge once per chunk). */
  touch(): void {
    this.lastSeen = this.engine.clock.now();
  }

  /** [MQTT-3.1.2-24] close after 1.5 × keep alive without any packet from the client. */
  startKeepAlive(seconds: number): void {
    this.keepAliveMs = seconds * 1500;
    if (this.keepAliveMs > 0)
      this.engine.keepAliveWheel.schedule(this, this.engine.clock.now() + this.keepAliveMs);
  }

  /**
   * The keep-alive deadline came (WheelItem). Activity does not move the deadline (that would cost
   * on every packet); it is checked here instead, and a client heard from since gets a new one.
   */
  onDeadline(now: number): void {
    if (this.state === ConnectionState.Closed) return;
    const idle = now - this.lastSeen;
    if (idle >= this.keepAliveMs) {
      this.disconnect(ReasonCode.KeepAliveTimeout);
      return;
    }
    this.engine.keepAliveWheel.schedule(this, this.lastSeen + this.keepAliveMs);
  }

  private stopKeepAlive(): void {
    if (this.wheelSlot !== 0) this.engine.keepAliveWheel.cancel(this);
  }
}

const V5 = { protocolVersion: 5 } as const;
const V4 = { protocolVersion: 4 } as const;
const NO_IDS: number[] = [];
