/**
 * The ports of the packet handlers: what one connection (`HandlerContext`) and the engine
 * (`HandlerEngine`) offer them. The channel implements the first and the broker core the second;
 * the handlers import neither, so channel, core and handlers do not import each other.
 */
import type { Packet } from 'mqtt-packet';
import type { Logger } from 'pino';
import type { RateLimitedLog } from '../../log/rate-limited.ts';
import type { TimerClock } from '../../protocol/clock.ts';
import type { FixedHeader } from '../../protocol/packet-types.ts';
import type { EngineConnection } from '../core.ts';
import type { Admission } from '../identity.ts';
import type { BrokerOptions } from '../options.ts';
import type { Holdable, Session, SessionLink } from '../session.ts';
import type { OutgoingRecord } from '../store/types.ts';
import type { Subscription } from '../subscription.ts';
import type { BrokerHooks, BrokerStats, ConnectionState, Message, Will } from '../types.ts';

/** What the handlers ask of the engine: sessions, routing, subscriptions, store write-through. */
export interface HandlerEngine {
  readonly options: Readonly<BrokerOptions>;
  readonly hooks: Partial<BrokerHooks>;
  readonly stats: BrokerStats;
  readonly clock: TimerClock;
  readonly logger: Logger;
  /** For expected bad input: one line per reason per interval. */
  readonly log: RateLimitedLog;
  /** Set by route(): every matching session refused the message for a limit (answer 0x97). */
  readonly quotaRefused: boolean;
  admit(conn: EngineConnection): Admission;
  attach(conn: EngineConnection, cleanStart: boolean, expiry: number): { session: Session; present: boolean };
  connected(conn: EngineConnection): void;
  route(message: Message, publisher?: Holdable): Promise<unknown> | undefined;
  persistIncomingQoS2(session: Session, packetId: number, add: boolean): Promise<unknown> | undefined;
  outgoingFinished(session: Session, rec: OutgoingRecord): void;
  outgoingChanged(session: Session, rec: OutgoingRecord): void;
  subscribe(session: Session, sub: Subscription<Session>): boolean;
  unsubscribe(session: Session, filter: string): boolean;
  sendRetained(session: Session, sub: Subscription<Session>, isNew: boolean): void;
}

/** One connection as its packet handlers see it: its protocol state and how to answer. */
export interface HandlerContext extends EngineConnection, SessionLink, Holdable {
  readonly engine: HandlerEngine;
  state: ConnectionState;
  readonly v5: boolean;
  info: EngineConnection['info'];
  session: Session | null;
  will: Will | undefined;
  normalDisconnect: boolean;
  /** Client's Receive Maximum: our outgoing in-flight window. */
  sendQuota: number;
  /** Client's Maximum Packet Size [MQTT-3.1.2-24]. */
  clientMaxPacketSize: number;
  /** v5 Request Problem Information: reason strings allowed on DISCONNECT. */
  problemInformation: boolean;
  /** Client's Topic Alias Maximum (outbound aliases we may use). */
  clientTopicAliasMax: number;
  /** Inbound topic aliases [MQTT-3.3.2-10..12]; live for this connection only. */
  readonly inAliases: Map<number, string>;
  /** Incoming QoS 1/2 PUBLISHes whose acknowledgement waits (store, local handler, flow control). */
  pendingAcks: number;
  /** The last acknowledgement still waiting; later ones queue behind it (order of PUBLISHes). */
  ackTail: Promise<void> | undefined;
  /** Packets that arrived while an asynchronous authentication was running. */
  pending: Packet[] | undefined;
  /** The CONNECT under enhanced authentication (§4.12), until it finishes. */
  connectPacket: Packet | undefined;
  /** The server assigned the client id (sent back in CONNACK). */
  assignedClientId: boolean;
  authMethod: string | undefined;
  authStep: number;
  setProtocolVersion(version: 3 | 4 | 5): void;
  send(packet: Packet): void;
  write(bytes: Buffer): void;
  /** Sends or withholds (flow control) the PUBACK/PUBREC of an incoming PUBLISH. */
  ack(header: FixedHeader, id: number, reason?: number): void;
  refuseConnect(reasonCode: number, reasonString?: string): void;
  close(): void;
  startKeepAlive(seconds: number): void;
  handlePacket(packet: Packet): void;
}
