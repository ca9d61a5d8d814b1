/**
 * Retained messages [MQTT-3.3.1-5..11]: kept when routed with the retain flag, cleared by an empty
 * payload, and sent to a new subscription according to its Retain Handling.
 */
import type { Clock } from '../protocol/clock.ts';
import { hasWildcard } from '../protocol/topic.ts';
import { RetainedIndex } from './retained-index.ts';
import type { Session } from './session.ts';
import type { SessionStore } from './store/types.ts';
import type { Subscription } from './subscription.ts';
import type { BrokerStats, Message, QoS } from './types.ts';

/** What retained messages need: the store (retained messages, and outgoing records of sessions), the read ACL. */
export interface RetainedDeps {
  readonly store: SessionStore;
  readonly stats: BrokerStats;
  readonly clock: Clock;
  /** May this session's client read a message on this topic (BrokerHooks.authorizeDeliver)? */
  mayRead(session: Session, topic: string): boolean;
}

export class RetainedMessages {
  /** By topic, with a tree of topic levels for wildcard lookups. */
  private readonly index = new RetainedIndex();

  constructor(private readonly deps: RetainedDeps) {}

  /** Loaded from the store at start. */
  restore(messages: Message[]): void {
    for (const m of messages) this.index.set(m.topic, m);
    this.deps.stats.retainedMessages = this.index.size;
  }

  /**
   * A routed message with the retain flag: store, replace, or (empty payload) clear the retained
   * message [MQTT-3.3.1-5..7]. Returns what the store returned (a Promise when it writes asynchronously).
   */
  set(message: Message): unknown {
    const store = this.deps.store.retained;
    if (message.payload.length === 0) {
      if (!this.index.delete(message.topic)) return undefined;
      this.deps.stats.retainedMessages = this.index.size;
      return store.delete(message.topic);
    }
    // own copy: the payload may be a view into a large socket read buffer
    const kept: Message = { ...message, payload: Buffer.from(message.payload), encoded: undefined };
    this.index.set(message.topic, kept);
    this.deps.stats.retainedMessages = this.index.size;
    return store.set(kept);
  }

  /** Retained messages for a new subscription, per Retain Handling [MQTT-3.3.1-9..11]. */
  sendOnSubscribe(session: Session, sub: Subscription<Session>, isNew: boolean): void {
    if (sub.group !== undefined) return; // shared subscriptions get no retained messages
    if (sub.retainHandling === 2 || (sub.retainHandling === 1 && !isNew)) return;
    const ids =
      sub.subscriptionId !== undefined && session.protocolVersion === 5 ? [sub.subscriptionId] : undefined;
    const filter = sub.topicFilter;
    if (!hasWildcard(filter)) {
      const m = this.index.get(filter);
      if (m !== undefined) this.deliver(session, m, sub.qos, ids);
      return;
    }
    for (const m of this.index.match(filter)) this.deliver(session, m, sub.qos, ids);
  }

  private deliver(session: Session, m: Message, qos: QoS, ids: number[] | undefined): void {
    const { store, stats, clock } = this.deps;
    if (m.expiresAt !== 0 && m.expiresAt <= clock.now()) {
      this.index.delete(m.topic);
      stats.retainedMessages = this.index.size;
      void store.retained.delete(m.topic);
      return;
    }
    if (!this.deps.mayRead(session, m.topic)) return;
    // [MQTT-3.3.1-8] retained messages sent on subscribe keep the retain flag
    const rec = session.deliver(m, qos < m.qos ? qos : m.qos, true, ids);
    if (rec !== undefined && session.stored) void store.saveOutgoing(session.clientId, rec);
  }
}
