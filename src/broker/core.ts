/**
 * The broker engine: sessions, subscriptions, routing, retained messages, wills and session expiry.
 * Channels (network) and local clients call into it; it never touches a socket.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { RateLimitedLog } from '../log/rate-limited.ts';
import { ReasonCode } from '../protocol/reason-codes.ts';
import { hasWildcard, parseSharedFilter } from '../protocol/topic.ts';
import { unrefTimer } from '../protocol/clock.ts';
import { type Admission, admitIdentity } from './identity.ts';
import { parseBrokerOptions, type BrokerOptions } from './options.ts';
import { pickMember, RoutePlan } from './route-plan.ts';
import {
  type DropReason,
  type Holdable,
  Session,
  type SessionLink,
  type SessionObserver,
} from './session.ts';
import { MemorySessionStore } from './store/memory.ts';
import { RetainedIndex } from './retained-index.ts';
import type { OutgoingRecord, SessionRecord, SessionStore } from './store/types.ts';
import { Subscription } from './subscription.ts';
import { TopicTree } from './topic-tree.ts';
import type {
  BrokerHooks,
  BrokerStats,
  ClientInfo,
  ConnectionState,
  Message,
  QoS,
  TimerClock,
  Will,
} from './types.ts';
import { systemClock } from './types.ts';

/**
 * A network connection as the engine sees it (the channel implements it): who it is, the will it
 * leaves, and how to end it (takeover, revocation, shutdown).
 */
export interface EngineConnection extends SessionLink {
  readonly info: ClientInfo;
  readonly clientId: string;
  readonly protocolVersion: 3 | 4 | 5;
  readonly state: ConnectionState;
  readonly session: Session | null;
  readonly will: Will | undefined;
  /** The client sent DISCONNECT 0x00: its will is discarded [MQTT-3.14.4-3]. */
  readonly normalDisconnect: boolean;
  /** Server-initiated DISCONNECT (v5 only on the wire), then close. */
  disconnect(reasonCode: number, reasonString?: string): void;
}

export interface BrokerDeps {
  hooks?: Partial<BrokerHooks>;
  store?: SessionStore;
  logger?: Logger;
  clock?: TimerClock;
  /** Expected bad input (malformed packets, refused clients, dropped messages) is logged at most once per reason per this many ms (default 60 000). */
  logIntervalMs?: number;
}

const NEVER = 0xffffffff;
const PLAN_CACHE_LIMIT = 10_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

export class BrokerCore extends EventEmitter implements SessionObserver {
  readonly options: Readonly<BrokerOptions>;
  readonly hooks: Partial<BrokerHooks>;
  readonly store: SessionStore;
  readonly logger: Logger;
  /** For expected bad input: one line per reason per interval, with the count left out (docs/broker.md). */
  readonly log: RateLimitedLog;
  readonly clock: TimerClock;
  readonly stats: BrokerStats;
  readonly sessions = new Map<string, Session>();
  readonly channels = new Set<EngineConnection>();
  protected readonly tree = new TopicTree<Subscription<Session>>();
  protected readonly retained = new RetainedIndex();
  private readonly plans = new Map<string, RoutePlan>();
  /** Resolves once sessions and retained messages are loaded from the store. */
  readonly ready: Promise<void>;
  protected loaded = false;
  /**
   * Set by route(): the message (QoS 1/2, not retained) matched deliveries and every one was dropped
   * for a limit, so nobody took it (the PUBLISH handler answers a v5 publisher 0x97).
   */
  quotaRefused = false;
  /** QoS 1/2 deliveries tried / dropped in the route() under way. */
  private routeTried = 0;
  private routeDropped = 0;

  constructor(options: Partial<BrokerOptions> = {}, deps: BrokerDeps = {}) {
    super();
    this.options = parseBrokerOptions(options);
    this.hooks = { ...deps.hooks };
    this.store = deps.store ?? new MemorySessionStore();
    this.logger = deps.logger ?? pino({ level: 'silent' });
    this.clock = deps.clock ?? systemClock;
    this.log = new RateLimitedLog(this.logger, {
      intervalMs: deps.logIntervalMs,
      now: () => this.clock.now(),
    });
    this.stats = {
      clientsConnected: 0,
      clientsTotal: 0,
      clientsMaximum: 0,
      sessions: 0,
      messagesReceived: 0,
      messagesSent: 0,
      publishReceived: 0,
      publishSent: 0,
      packetsReceived: 0,
      packetsSent: 0,
      publishDropped: 0,
      bytesReceived: 0,
      bytesSent: 0,
      subscriptions: 0,
      retainedMessages: 0,
      inflightMessages: 0,
      queuedMessages: 0,
      queuedBytes: 0,
      inflightBytes: 0,
      startedAt: this.clock.now(),
    };
    const loading = this.load();
    this.ready =
      loading instanceof Promise
        ? loading.then(() => {
            this.loaded = true;
          })
        : Promise.resolve();
    if (!(loading instanceof Promise)) this.loaded = true;
  }

  // ---- startup: restore from the store ----

  private load(): void | Promise<void> {
    const retained = this.store.retained.load();
    const sessions = this.store.loadSessions();
    if (retained instanceof Promise || sessions instanceof Promise) {
      return Promise.all([retained, sessions]).then(async ([r, s]) => {
        this.restoreRetained(r);
        for (const rec of s) await this.restoreSession(rec);
      });
    }
    this.restoreRetained(retained);
    for (const rec of sessions) void this.restoreSession(rec);
  }

  private restoreRetained(messages: Message[]): void {
    for (const m of messages) this.retained.set(m.topic, m);
    this.stats.retainedMessages = this.retained.size;
  }

  private restoreSession(rec: SessionRecord): void | Promise<void> {
    const session = this.newSession(rec.clientId, rec.expiryInterval, rec.protocolVersion);
    session.stored = true;
    // who it was, so read ACLs apply to what is routed to it before its client is back
    // (where it connected from is not stored: transport stands for 'unknown' here)
    if (rec.username !== undefined)
      session.client = {
        clientId: rec.clientId,
        username: rec.username ?? undefined,
        protocolVersion: rec.protocolVersion,
        remoteAddress: undefined,
        transport: 'tcp',
      };
    for (const s of rec.subscriptions) {
      const shared = parseSharedFilter(s.filter);
      this.addSubscription(
        session,
        new Subscription(
          session,
          s.filter,
          shared ? shared.filter : s.filter,
          shared ? shared.group : undefined,
          s.qos,
          s.noLocal,
          s.retainAsPublished,
          s.retainHandling,
          s.subscriptionId,
        ),
      );
    }
    const disconnectedAt = rec.disconnectedAt === 0 ? this.clock.now() : rec.disconnectedAt;
    this.scheduleExpiry(session, disconnectedAt);
    const out = this.store.loadOutgoing(rec.clientId);
    const inc = this.store.loadIncomingQoS2(rec.clientId);
    const finish = (o: OutgoingRecord[], i: number[]): void => {
      session.restoreOutgoing(o);
      for (const id of i) session.incomingQoS2.add(id);
    };
    if (out instanceof Promise || inc instanceof Promise)
      return Promise.all([out, inc]).then(([o, i]) => finish(o, i));
    finish(out, inc);
  }

  protected newSession(clientId: string, expiry: number, version: 3 | 4 | 5, isLocal = false): Session {
    const session = new Session(
      clientId,
      expiry,
      version,
      this.options,
      this.stats,
      this.clock,
      this.options.slowSubscriberHoldMs,
      isLocal,
    );
    session.observer = this;
    this.sessions.set(clientId, session);
    this.stats.sessions = this.sessions.size;
    return session;
  }

  // ---- connections ----

  /**
   * May this authenticated connection use its client id (identity.ts)? Refusals are logged (rate
   * limited). Runs before attach(), so a refused client never touches the session.
   */
  admit(ch: EngineConnection): Admission {
    const existing = this.sessions.get(ch.clientId);
    const a = admitIdentity(
      ch.clientId,
      ch.info.username,
      existing === undefined
        ? undefined
        : {
            isLocal: existing.isLocal,
            owner: existing.client === undefined ? undefined : { username: existing.client.username },
          },
    );
    if (!a.ok) {
      const { clientId, username, remoteAddress } = ch.info;
      this.log.log(
        'info',
        a.reason,
        { clientId, username, remoteAddress, reasonCode: a.reasonCode },
        `connection refused: ${a.reasonString}`,
      );
    }
    return a;
  }

  /** CONNECT accepted: take over / resume / create the session [MQTT-3.1.2-4..6], [MQTT-3.1.4-3]. */
  attach(ch: EngineConnection, cleanStart: boolean, expiry: number): { session: Session; present: boolean } {
    const clientId = ch.clientId;
    let session = this.sessions.get(clientId);
    const previous = session?.link;
    if (previous !== null && previous !== undefined && previous !== ch) {
      // [MQTT-3.1.4-3] session takeover: the older connection is closed with 0x8E
      if (isConnection(previous)) previous.disconnect(ReasonCode.SessionTakenOver);
      session = this.sessions.get(clientId);
    }
    if (session !== undefined) {
      this.cancelTimers(session);
      // [MQTT-3.1.3-9] a new connection before the will delay: the will is not sent
      session.pendingWill = undefined;
      if (cleanStart) {
        this.destroySession(session);
        session = undefined;
      }
    }
    const present = session !== undefined;
    session ??= this.newSession(clientId, expiry, ch.protocolVersion);
    session.client = ch.info;
    session.expiryInterval = expiry;
    session.protocolVersion = ch.protocolVersion;
    if (expiry > 0) {
      this.saveSessionHeader(session, 0);
      if (!session.stored) {
        session.stored = true;
        for (const sub of session.subscriptions.values())
          void this.store.saveSubscription(clientId, sub.toRecord());
      }
    } else if (session.stored) {
      session.stored = false;
      void this.store.deleteSession(clientId);
    }
    return { session, present };
  }

  /** The channel has sent CONNACK. */
  connected(ch: EngineConnection): void {
    this.channels.add(ch);
    this.stats.clientsConnected++;
    this.stats.clientsTotal++;
    if (this.stats.clientsConnected > this.stats.clientsMaximum)
      this.stats.clientsMaximum = this.stats.clientsConnected;
    this.emit('clientConnected', ch.info);
  }

  /** A channel is gone: will and session expiry rules (MQTT 5.0 §3.1.2.5, §3.1.3.2.2). */
  channelClosed(ch: EngineConnection, wasConnected: boolean): void {
    this.channels.delete(ch);
    const session = ch.session;
    if (!wasConnected || session === null) return;
    this.stats.clientsConnected--;
    if (session.link === ch) session.detach();
    const will = ch.normalDisconnect ? undefined : ch.will;
    if (session.expiryInterval === 0) {
      if (will !== undefined) this.publishWill(will);
      this.destroySession(session);
    } else {
      if (will !== undefined) {
        const delay = Math.min(will.delay, session.expiryInterval);
        if (delay === 0) this.publishWill(will);
        else {
          session.pendingWill = will;
          session.willTimer = this.clock.setTimeout(
            () => {
              session.willTimer = undefined;
              const w = session.pendingWill;
              session.pendingWill = undefined;
              if (w !== undefined) this.publishWill(w);
            },
            Math.min(delay * 1000, MAX_TIMER_MS),
          );
          unrefTimer(session.willTimer);
        }
      }
      const now = this.clock.now();
      this.scheduleExpiry(session, now);
      if (session.stored) this.saveSessionHeader(session, now);
    }
    this.emit('clientDisconnected', ch.info);
  }

  private scheduleExpiry(session: Session, disconnectedAt: number): void {
    if (session.expiryInterval === NEVER) return;
    const endsAt = disconnectedAt + session.expiryInterval * 1000;
    const arm = (): void => {
      // timers hold at most 2^31-1 ms; long expiries re-arm until the end is reached
      const left = Math.min(Math.max(0, endsAt - this.clock.now()), MAX_TIMER_MS);
      session.expiryTimer = this.clock.setTimeout(() => {
        session.expiryTimer = undefined;
        if (session.link !== null) return;
        if (endsAt > this.clock.now()) arm();
        else this.destroySession(session);
      }, left);
      unrefTimer(session.expiryTimer);
    };
    arm();
  }

  protected cancelTimers(session: Session): void {
    if (session.expiryTimer !== undefined) this.clock.clearTimeout(session.expiryTimer);
    if (session.willTimer !== undefined) this.clock.clearTimeout(session.willTimer);
    session.expiryTimer = undefined;
    session.willTimer = undefined;
  }

  /** Ends a session: a pending will goes out now [MQTT-3.1.3-9], subscriptions and queues are dropped. */
  destroySession(session: Session): void {
    if (this.sessions.get(session.clientId) !== session) return;
    this.cancelTimers(session);
    const will = session.pendingWill;
    session.pendingWill = undefined;
    for (const sub of session.subscriptions.values()) this.removeSubscription(sub);
    session.subscriptions.clear();
    session.clearOutgoing();
    this.sessions.delete(session.clientId);
    this.stats.sessions = this.sessions.size;
    if (session.stored) {
      session.stored = false;
      void this.store.deleteSession(session.clientId);
    }
    if (will !== undefined) this.publishWill(will);
  }

  private saveSessionHeader(session: Session, disconnectedAt: number): void {
    void this.store.saveSession({
      clientId: session.clientId,
      expiryInterval: session.expiryInterval,
      disconnectedAt,
      protocolVersion: session.protocolVersion,
      username: session.client === undefined ? undefined : (session.client.username ?? null),
    });
  }

  publishWill(will: Will): void {
    const expiry = will.expiryInterval;
    const message: Message = {
      ...will.message,
      expiresAt: expiry > 0 ? this.clock.now() + expiry * 1000 : 0,
    };
    void this.route(message);
  }

  // ---- subscriptions ----

  /** Adds or replaces a subscription [MQTT-3.8.4-3]. Returns true if it did not exist. */
  subscribe(session: Session, sub: Subscription<Session>): boolean {
    const old = session.subscriptions.get(sub.filter);
    if (old !== undefined) this.removeSubscription(old);
    this.addSubscription(session, sub);
    if (session.stored) void this.store.saveSubscription(session.clientId, sub.toRecord());
    return old === undefined;
  }

  unsubscribe(session: Session, filter: string): boolean {
    const sub = session.subscriptions.get(filter);
    if (sub === undefined) return false;
    this.removeSubscription(sub);
    session.subscriptions.delete(filter);
    if (session.stored) void this.store.deleteSubscription(session.clientId, filter);
    return true;
  }

  private addSubscription(session: Session, sub: Subscription<Session>): void {
    session.subscriptions.set(sub.filter, sub);
    this.tree.add(sub.topicFilter, sub, sub.group);
    this.stats.subscriptions = this.tree.size;
    this.plans.clear();
  }

  private removeSubscription(sub: Subscription<Session>): void {
    this.tree.remove(sub.topicFilter, sub.key, sub.group);
    this.stats.subscriptions = this.tree.size;
    this.plans.clear();
  }

  /** Retained messages for a new subscription, per Retain Handling [MQTT-3.3.1-9..11]. */
  sendRetained(session: Session, sub: Subscription<Session>, isNew: boolean): void {
    if (sub.group !== undefined) return; // [MQTT-3.8.4-?] not for shared subscriptions
    if (sub.retainHandling === 2 || (sub.retainHandling === 1 && !isNew)) return;
    const ids =
      sub.subscriptionId !== undefined && session.protocolVersion === 5 ? [sub.subscriptionId] : undefined;
    const filter = sub.topicFilter;
    if (!hasWildcard(filter)) {
      const m = this.retained.get(filter);
      if (m !== undefined) this.deliverRetained(session, m, sub.qos, ids);
      return;
    }
    for (const m of this.retained.match(filter)) this.deliverRetained(session, m, sub.qos, ids);
  }

  private deliverRetained(session: Session, m: Message, qos: QoS, ids: number[] | undefined): void {
    if (m.expiresAt !== 0 && m.expiresAt <= this.clock.now()) {
      this.retained.delete(m.topic);
      this.stats.retainedMessages = this.retained.size;
      void this.store.retained.delete(m.topic);
      return;
    }
    if (!this.mayRead(session, m.topic)) return;
    // [MQTT-3.3.1-8] retained messages sent on subscribe keep the retain flag
    const rec = session.deliver(m, qos < m.qos ? qos : m.qos, true, ids);
    if (rec !== undefined && session.stored) void this.store.saveOutgoing(session.clientId, rec);
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

  private routeTo(message: Message, publisher: Holdable | undefined): Promise<unknown>[] | undefined {
    let pending: Promise<unknown>[] | undefined;
    if (message.retain) {
      const r = this.setRetained(message);
      if (r instanceof Promise) (pending ??= []).push(r);
    }
    let plan = this.plans.get(message.topic);
    if (plan === undefined) {
      plan = new RoutePlan();
      this.tree.match(message.topic, plan);
      plan.seal();
      if (this.plans.size >= PLAN_CACHE_LIMIT) this.plans.clear();
      this.plans.set(message.topic, plan);
    }
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

  /** The read ACL at delivery (BrokerHooks.authorizeDeliver), for a session whose client is known. */
  private mayRead(session: Session, topic: string): boolean {
    const canRead = this.hooks.authorizeDeliver;
    return canRead === undefined || session.client === undefined || canRead(session.client, topic);
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
    if (!this.mayRead(session, message.topic)) return undefined;
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
    const r = this.store.saveOutgoing(session.clientId, rec);
    return r instanceof Promise ? r : undefined;
  }

  /** [MQTT-3.3.1-5..7] store, replace, or (empty payload) clear the retained message. */
  private setRetained(message: Message): unknown {
    if (message.payload.length === 0) {
      if (!this.retained.delete(message.topic)) return undefined;
      this.stats.retainedMessages = this.retained.size;
      return this.store.retained.delete(message.topic);
    }
    // own copy: the payload may be a view into a large socket read buffer
    const kept: Message = { ...message, payload: Buffer.from(message.payload), encoded: undefined };
    this.retained.set(message.topic, kept);
    this.stats.retainedMessages = this.retained.size;
    return this.store.retained.set(kept);
  }

  // ---- SessionObserver: checks and limits on what a session holds ----

  /** A queued or in-flight message about to go out: checked against the identity now holding the session. */
  mayDeliver(session: Session, message: Message): boolean {
    return this.mayRead(session, message.topic);
  }

  dropped(session: Session, why: DropReason): void {
    const o = this.options;
    const limit =
      why === 'budget'
        ? { maxQueuedBytesTotal: o.maxQueuedBytesTotal }
        : why === 'queue-bytes'
          ? { maxQueuedBytes: o.maxQueuedBytes }
          : { maxQueuedMessages: o.maxQueuedMessages };
    this.log.log(
      'warn',
      `dropped-${why}`,
      { clientId: session.clientId, ...limit },
      why === 'budget'
        ? 'QoS 1/2 message dropped: the broker-wide queue budget is used up'
        : 'QoS 1/2 message dropped: session queue full',
    );
  }

  // ---- store write-through for QoS state ----

  outgoingFinished(session: Session, rec: OutgoingRecord): void {
    if (session.stored) void this.store.deleteOutgoing(session.clientId, rec.seq);
  }

  outgoingChanged(session: Session, rec: OutgoingRecord): void {
    if (session.stored) void this.store.saveOutgoing(session.clientId, rec);
  }

  /** Saves or forgets a received QoS 2 id of a stored session; the save's promise, if the store is durable. */
  persistIncomingQoS2(session: Session, packetId: number, add: boolean): Promise<unknown> | undefined {
    if (!session.stored) return undefined;
    if (!add) {
      void this.store.deleteIncomingQoS2(session.clientId, packetId);
      return undefined;
    }
    const r = this.store.saveIncomingQoS2(session.clientId, packetId);
    return r instanceof Promise ? r : undefined;
  }
}

const IGNORE = (): void => {};

function isConnection(link: unknown): link is EngineConnection {
  return typeof (link as EngineConnection).disconnect === 'function';
}
