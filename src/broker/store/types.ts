/**
 * Session and retained-message persistence (one contract suite, test/broker/store-suite.ts, for several implementations).
 *
 * The broker keeps live session state in memory and writes through to the store for sessions that
 * outlive their connection (session expiry > 0). Every method may return a Promise: a durable store
 * makes the broker wait before it acknowledges — an incoming QoS 1/2 message is saved (as outgoing
 * entries of the subscribing persistent sessions, and as retained) before PUBACK/PUBREC goes out.
 * The memory store answers synchronously, so the fast path never awaits.
 */
import type { Message, QoS } from '../types.ts';

export type MaybePromise<T> = T | Promise<T>;

export interface SubscriptionRecord {
  filter: string; // as subscribed, including any `$share/group/` prefix
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionId: number | undefined;
}

export interface SessionRecord {
  clientId: string;
  /** Seconds; 0xFFFFFFFF = never. */
  expiryInterval: number;
  /** Clock ms of the disconnect, or 0 while connected. */
  disconnectedAt: number;
  protocolVersion: 3 | 4 | 5;
  /**
   * User name of the session's last connection, null when it had none; undefined when not known.
   * A restored session is checked against read ACLs as this user before its client is back.
   */
  username?: string | null;
  subscriptions: SubscriptionRecord[];
}

/** An outgoing message of a session: queued (no packet id yet), sent (awaiting PUBACK/PUBREC) or released (PUBREL sent). */
export interface OutgoingRecord {
  seq: number; // per-session order
  state: 'queued' | 'sent' | 'pubrel';
  packetId: number; // 0 while queued
  message: Message;
  qos: QoS; // granted delivery QoS
  retain: boolean; // retain flag as delivered
  subscriptionIds: number[];
}

export interface SessionStore {
  loadSessions(): MaybePromise<SessionRecord[]>;
  /** Creates or replaces the session header (subscriptions are saved separately). */
  saveSession(rec: Omit<SessionRecord, 'subscriptions'>): MaybePromise<void>;
  deleteSession(clientId: string): MaybePromise<void>;
  saveSubscription(clientId: string, sub: SubscriptionRecord): MaybePromise<void>;
  deleteSubscription(clientId: string, filter: string): MaybePromise<void>;

  saveOutgoing(clientId: string, rec: OutgoingRecord): MaybePromise<void>;
  deleteOutgoing(clientId: string, seq: number): MaybePromise<void>;
  loadOutgoing(clientId: string): MaybePromise<OutgoingRecord[]>;

  /** QoS 2 packet ids received and PUBREC'd but not yet released (PUBREL). */
  saveIncomingQoS2(clientId: string, packetId: number): MaybePromise<void>;
  deleteIncomingQoS2(clientId: string, packetId: number): MaybePromise<void>;
  loadIncomingQoS2(clientId: string): MaybePromise<number[]>;

  readonly retained: RetainedStore;
  close(): MaybePromise<void>;
}

export interface RetainedStore {
  /** Sets or replaces the retained message of message.topic. */
  set(message: Message): MaybePromise<void>;
  delete(topic: string): MaybePromise<void>;
  /** All retained messages (loaded once at start; the broker indexes them itself). */
  load(): MaybePromise<Message[]>;
}
