/** Types shared across the broker: messages, wills, connection states, hooks, stats, local clients. */
import type { UserProperties } from 'mqtt-packet';

export type QoS = 0 | 1 | 2;

/** PUBLISH properties carried end to end (topic alias and subscription ids are per hop, so not here). */
export interface PublishProperties {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
  contentType?: string;
}

/** A message as the router sees it. Immutable once routed; shared by all deliveries. */
export interface Message {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties: PublishProperties | undefined;
  /** Absolute expiry time (clock ms) from Message Expiry Interval, or 0 for never. */
  expiresAt: number;
  /** Client id of the publisher ('' for the server), for no-local. */
  origin: string;
  /**
   * Who published it, as authenticated at CONNECT (absent for the server, and for messages restored
   * from a store). Handed to local subscribers so the platform can check a gateway's provenance.
   */
  publisher?: ClientInfo;
  /** Encoded PUBLISH bytes per delivery shape, filled lazily by the encoder (internal). */
  encoded?: ({ bytes: Buffer; idOffset: number } | undefined)[];
}

/** A will message (MQTT 5.0 §3.1.3.2) waiting for its connection to end. */
export interface Will {
  message: Message;
  /** Seconds (v5 Will Delay Interval). */
  delay: number;
  /** Seconds (Message Expiry Interval, 0 = none): the expiry starts when the will is published. */
  expiryInterval: number;
}

/** Where a connection is in its life: CONNECT not yet seen, authenticating, connected, closed. */
export const ConnectionState = { New: 0, Authenticating: 1, Connected: 2, Closed: 3 } as const;
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

export interface ClientInfo {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly protocolVersion: 3 | 4 | 5;
  readonly remoteAddress: string | undefined;
  readonly transport: 'tcp' | 'tls' | 'ws' | 'local';
}

export interface AuthenticateRequest extends ClientInfo {
  readonly password: Buffer | undefined;
  readonly authenticationMethod: string | undefined;
  readonly authenticationData: Buffer | undefined;
}

/** true = accept; false = refuse (Not authorized); or a refusal with a v5 CONNACK reason code. */
export type AuthResult = boolean | { reasonCode: number; reasonString?: string };

/** One step of enhanced authentication (v5 AUTH flow, §4.12). */
export type AuthStep =
  | { done: true; authenticationData?: Buffer }
  | { done: false; authenticationData?: Buffer }
  | { reasonCode: number; reasonString?: string };

export interface BrokerHooks {
  /** CONNECT: decide whether the client may connect. May be async. */
  authenticate(req: AuthenticateRequest): AuthResult | Promise<AuthResult>;
  /**
   * Enhanced authentication (v5 CONNECT with Authentication Method, and AUTH packets).
   * Without this hook a CONNECT with an Authentication Method is refused with 0x8C.
   */
  extendedAuth(req: AuthenticateRequest, step: number): AuthStep | Promise<AuthStep>;
  /** PUBLISH: true to accept; false refuses (v5: PUBACK/PUBREC 0x87; QoS 0 dropped). Synchronous (hot path). */
  authorizePublish(client: ClientInfo, topic: string, qos: QoS, retain: boolean): boolean;
  /**
   * SUBSCRIBE: true grants the requested QoS, false refuses with 0x87 (Not authorized),
   * a number ≥ 0x80 refuses with that reason code, a QoS 0..2 grants at most that QoS.
   */
  authorizeSubscribe(client: ClientInfo, filter: string, qos: QoS): boolean | number;
  /**
   * Delivery: may this client receive a message on this topic (a read ACL checked per message, as
   * Mosquitto does, so a broad subscription gets only what the client may read)? false skips this
   * subscriber. Asked with the ClientInfo of the connection holding the session (a fresh object per
   * connection, so a hook may cache per object), when a message is routed and again when a queued or
   * in-flight one goes out later (after a reconnect, an ACL reload). Synchronous (hot path); not asked
   * for local clients, nor for a session restored from a store that did not keep its user name.
   */
  authorizeDeliver(client: ClientInfo, topic: string): boolean;
}

export interface BrokerStats {
  clientsConnected: number;
  clientsTotal: number;
  clientsMaximum: number;
  sessions: number;
  messagesReceived: number;
  messagesSent: number;
  /** PUBLISH packets received / sent (same as messagesReceived / messagesSent). */
  publishReceived: number;
  publishSent: number;
  /** Control packets of every type. */
  packetsReceived: number;
  packetsSent: number;
  publishDropped: number;
  bytesReceived: number;
  bytesSent: number;
  subscriptions: number;
  retainedMessages: number;
  inflightMessages: number;
  queuedMessages: number;
  /** Bytes (payload + topic) of the messages queued / in flight, summed over sessions (a message held by n sessions counts n times). */
  queuedBytes: number;
  inflightBytes: number;
  startedAt: number;
}

// Time comes from the shared vocabulary (one Clock for every component).
export type { Clock, TimerClock, TimerHandle } from '../protocol/clock.ts';
export { systemClock } from '../protocol/clock.ts';

export interface LocalMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties?: PublishProperties;
  /** The publisher's identity when the broker knows it (see Message.publisher). */
  publisher?: ClientInfo;
}

export interface LocalClient {
  readonly clientId: string;
  /**
   * `onMessage` may return a Promise: for a client's QoS 1/2 PUBLISH delivered at QoS >= 1, the
   * PUBACK/PUBREC then waits for it, and a rejection refuses the message (docs/broker.md).
   */
  subscribe(filter: string, options: { qos: QoS }, onMessage: (msg: LocalMessage) => unknown): void;
  unsubscribe(filter: string): void;
  publish(
    topic: string,
    payload: Buffer,
    options?: { qos?: QoS; retain?: boolean; properties?: PublishProperties },
  ): void;
  close(): void;
}

export interface ConnectionMeta {
  remoteAddress?: string;
  transport?: 'tcp' | 'tls' | 'ws';
}
