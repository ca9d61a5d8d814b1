/**
 * Subscriptions and routing: the topic tree of every session's subscriptions, the per-topic
 * delivery plans, and `route()`, the hot path that hands a message to each matching session.
 */
import { pickMember, RoutePlan } from './route-plan.ts';
import type { RetainedMessages } from './retained.ts';
import type { Holdable, Session } from './session.ts';
import type { SessionStore } from './store/types.ts';
import type { Subscription } from './subscription.ts';
import { TopicTree } from './topic-tree.ts';
import type { BrokerStats, Message, QoS } from './types.ts';

const PLAN_CACHE_LIMIT = 10_000;

/** What the router needs: where persistent sessions are written, retained messages, the read ACL. */
export interface RouterDeps {
  readonly store: SessionStore;
  readonly stats: BrokerStats;
  readonly retained: RetainedMessages;
  /** May this session's client read a message on this topic (BrokerHooks.authorizeDeliver)? */
  mayRead(session: Session, topic: string): boolean;
}

export class Router {
  private readonly tree = new TopicTree<Subscription<Session>>();
  private readonly plans = new Map<string, RoutePlan>();
  /**
   * Set by route(): the message (QoS 1/2, not retained) matched deliveries and every one was dropped
   * for a limit, so nobody took it (the PUBLISH handler answers a v5 publisher 0x97).
   */
  quotaRefused = false;
  /** QoS 1/2 deliveries tried / dropped in the route() under way. */
  private routeTried = 0;
  private routeDropped = 0;

  constructor(private readonly deps: RouterDeps) {}

  // ---- subscriptions ----

  /** Adds or replaces a subscription [MQTT-3.8.4-3]. Returns true if it did not exist. */
  subscribe(session: Session, sub: Subscription<Session>): boolean {
    const old = session.subscription(sub.filter);
    if (old !== undefined) this.removeFromTree(old);
    this.add(session, sub);
    if (session.stored) void this.deps.store.saveSubscription(session.clientId, sub.toRecord());
    return old === undefined;
  }

  unsubscribe(session: Session, filter: string): boolean {
    const sub = session.subscription(filter);
    if (sub === undefined) return false;
    this.removeFromTree(sub);
    session.removeSubscription(filter);
    if (session.stored) void this.deps.store.deleteSubscription(session.clientId, filter);
    return true;
  }

  /** Adds a subscription without writing it (restored from the store, or just written). */
  add(session: Session, sub: Subscription<Session>): void {
    session.putSubscription(sub);
    this.tree.add(sub.topicFilter, sub, sub.group);
    this.deps.stats.subscriptions = this.tree.size;
    this.plans.clear();
  }

  /** The session ends: its subscriptions leave the tree (the store forgets the session as a whole). */
  removeAll(session: Session): void {
    for (const sub of session.subscriptionList()) this.removeFromTree(sub);
    session.clearSubscriptions();
  }

  private removeFromTree(sub: Subscription<Session>): void {
    this.tree.remove(sub.topicFilter, sub.key, sub.group);
    this.deps.stats.subscriptions = this.tree.size;
    this.plans.clear();
  }

  // ---- routing (hot path) ----

  /**
   * Routes a message to every matching session. Returns a Promise only when the store is
   * asynchronous or a local handler returned one for a client's QoS 1/2 message; the publisher's
   * PUBACK/PUBREC waits for it. A rejection from a local handler is a LocalDeliveryRefused.
   */
  route(message: Message, publisher?: Holdable): Promise<unknown> | undefined {
    // a local handler may publish while this runs: keep the outer route's counts
    const outerTried = this.routeTried;
    const outerDropped = this.routeDropped;
    this.routeTried = 0;
    this.routeDropped = 0;
    const pending = this.routeTo(message, publisher);
    this.quotaRefused = this.routeTried > 0 && this.routeDropped === this.routeTried && !message.retain;
    this.routeTried = outerTried;
    this.routeDropped = outerDropped;
    if (pending === undefined) return undefined;
    const all = Promise.all(pending);
    // marked handled: callers with nobody to acknowledge (server publish, wills, local clients) drop it,
    // and a store failure must not become an unhandled rejection (the store logs it); the PUBLISH
    // handler still sees the rejection through its own handler
    all.catch(IGNORE);
    return all;
  }

  /**
   * Whether a message on `topic` would reach any subscription now (from the cached plan), so a
   * publisher can skip building a message nobody reads.
   */
  hasSubscribers(topic: string): boolean {
    const plan = this.plan(topic);
    return plan.deliveries.length > 0 || plan.groups.length > 0;
  }

  /** The sessions and shared groups a topic goes to, cached per topic until a subscription changes. */
  private plan(topic: string): RoutePlan {
    let plan = this.plans.get(topic);
    if (plan === undefined) {
      plan = new RoutePlan();
      this.tree.match(topic, plan);
      plan.seal();
      if (this.plans.size >= PLAN_CACHE_LIMIT) this.plans.clear();
      this.plans.set(topic, plan);
    }
    return plan;
  }

  private routeTo(message: Message, publisher: Holdable | undefined): Promise<unknown>[] | undefined {
    let pending: Promise<unknown>[] | undefined;
    if (message.retain) {
      const r = this.deps.retained.set(message);
      if (r instanceof Promise) (pending ??= []).push(r);
    }
    const plan = this.plan(message.topic);
    const deliveries = plan.deliveries;
    for (let i = 0; i < deliveries.length; i++) {
      const d = deliveries[i]!;
      // [MQTT-3.8.3-3] no local
      if (d.noLocal && d.session.clientId === message.origin) continue;
      // [MQTT-3.3.1-12] retain is cleared on normal delivery unless retain-as-published
      const retain = d.retainAsPublished ? message.retain : false;
      const r = this.deliverTo(d.session, message, d.qos, retain, d.subscriptionIds, publisher);
      if (r !== undefined) (pending ??= []).push(r);
    }
    const groups = plan.groups;
    for (let i = 0; i < groups.length; i++) {
      const sub = pickMember(groups[i]!);
      if (sub === undefined) continue;
      const session = sub.owner;
      const ids =
        sub.subscriptionId !== undefined && session.protocolVersion === 5 ? [sub.subscriptionId] : undefined;
      const retain = sub.retainAsPublished ? message.retain : false;
      const r = this.deliverTo(session, message, sub.qos, retain, ids, publisher);
      if (r !== undefined) (pending ??= []).push(r);
    }
    return pending;
  }

  /** One delivery: granted QoS, flow control towards the publisher, write-through for persistent sessions. */
  private deliverTo(
    session: Session,
    message: Message,
    grantedQoS: QoS,
    retain: boolean,
    ids: number[] | undefined,
    publisher: Holdable | undefined,
  ): Promise<unknown> | undefined {
    if (!this.deps.mayRead(session, message.topic)) return undefined;
    const qos = grantedQoS < message.qos ? grantedQoS : message.qos;
    const rec = session.deliver(message, qos, retain, ids);
    if (qos > 0 && !session.isLocal) {
      this.routeTried++;
      if (rec === undefined) this.routeDropped++;
    }
    if (rec === undefined) {
      // a local handler may take responsibility for a client's QoS 1/2 message (docs/broker.md)
      if (session.isLocal && publisher !== undefined && qos > 0) return session.link?.takeResult?.();
      return undefined;
    }
    if (publisher !== undefined && session.congested) session.holdPublisher(publisher);
    if (!session.stored) return undefined;
    const r = this.deps.store.saveOutgoing(session.clientId, rec);
    return r instanceof Promise ? r : undefined;
  }
}

const IGNORE = (): void => {};
