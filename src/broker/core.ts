/**
 * The broker engine: the session registry (create, resume, take over, end a session), connections
 * coming and going, and the write-through of session state to the store. Its parts do the rest:
 * subscriptions and routing (router.ts), retained messages (retained.ts), wills and session expiry
 * (wills-and-expiry.ts). Channels and local clients call into it through the ports declared beside
 * them (handlers/context.ts, local-client.ts); it never touches a socket.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { RateLimitedLog } from '../log/rate-limited.ts';
import { ReasonCode } from '../protocol/reason-codes.ts';
import { parseSharedFilter } from '../protocol/topic.ts';
import { type Admission, admitIdentity } from './identity.ts';
import { parseBrokerOptions, type BrokerOptions } from './options.ts';
import {
  type DropReason,
  type Holdable,
  Session,
  sessionShared,
  type SessionLink,
  type SessionObserver,
  type SessionShared,
} from './session.ts';
import { RetainedMessages } from './retained.ts';
import { Router } from './router.ts';
import { MemorySessionStore } from './store/memory.ts';
import type { OutgoingRecord, SessionRecord, SessionStore } from './store/types.ts';
import { Subscription } from './subscription.ts';
import type {
  BrokerHooks,
  BrokerStats,
  ClientInfo,
  ConnectionState,
  Message,
  TimerClock,
  Will,
} from './types.ts';
import { systemClock } from './types.ts';
import { WillsAndExpiry } from './wills-and-expiry.ts';
import { DeadlineWheel } from './deadline-wheel.ts';

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
  /** What every session points to (made with the first session: the options are final by then). */
  private sessionShared: SessionShared | undefined;
  readonly channels = new Set<EngineConnection>();
  private readonly router: Router;
  private readonly retained: RetainedMessages;
  private readonly willsAndExpiry: WillsAndExpiry;
  /** Keep alive of every connection on one timer (deadline-wheel.ts). */
  readonly keepAliveWheel: DeadlineWheel;
  /** Resolves once sessions and retained messages are loaded from the store. */
  readonly ready: Promise<void>;
  protected loaded = false;

  constructor(options: Partial<BrokerOptions> = {}, deps: BrokerDeps = {}) {
    super();
    this.options = parseBrokerOptions(options);
    this.hooks = { ...deps.hooks };
    this.store = deps.store ?? new MemorySessionStore();
    this.logger = deps.logger ?? pino({ level: 'silent' });
    this.clock = deps.clock ?? systemClock;
    this.keepAliveWheel = new DeadlineWheel(this.clock);
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
    const mayRead = (session: Session, topic: string): boolean => this.mayRead(session, topic);
    this.retained = new RetainedMessages({
      store: this.store,
      stats: this.stats,
      clock: this.clock,
      mayRead,
    });
    this.router = new Router({ store: this.store, stats: this.stats, retained: this.retained, mayRead });
    this.willsAndExpiry = new WillsAndExpiry({
      clock: this.clock,
      publish: (message) => void this.router.route(message),
      endSession: (session) => this.destroySession(session),
    });
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
        this.retained.restore(r);
        for (const rec of s) await this.restoreSession(rec);
      });
    }
    this.retained.restore(retained);
    for (const rec of sessions) void this.restoreSession(rec);
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
      this.router.add(
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
    this.willsAndExpiry.scheduleExpiry(session, disconnectedAt);
    const out = this.store.loadOutgoing(rec.clientId);
    const inc = this.store.loadIncomingQoS2(rec.clientId);
    const finish = (o: OutgoingRecord[], i: number[]): void => {
      session.restoreOutgoing(o);
      for (const id of i) session.addIncomingQoS2(id);
    };
    if (out instanceof Promise || inc instanceof Promise)
      return Promise.all([out, inc]).then(([o, i]) => finish(o, i));
    finish(out, inc);
  }

  protected newSession(clientId: string, expiry: number, version: 3 | 4 | 5, isLocal = false): Session {
    this.sessionShared ??= sessionShared(
      this.options,
      this.stats,
      this.clock,
      this.options.slowSubscriberHoldMs,
      this,
    );
    const session = new Session(clientId, expiry, version, this.sessionShared, isLocal);
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
      this.willsAndExpiry.cancel(session);
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
        for (const sub of session.subscriptionList())
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
      if (will !== undefined) this.willsAndExpiry.publishWill(will);
      this.destroySession(session);
    } else {
      const now = this.clock.now();
      this.willsAndExpiry.connectionEnded(session, will, now);
      if (session.stored) this.saveSessionHeader(session, now);
    }
    this.emit('clientDisconnected', ch.info);
  }

  /** Stops a session's expiry and delayed-will timers (the broker is closing). */
  protected cancelTimers(session: Session): void {
    this.willsAndExpiry.cancel(session);
  }

  /** Ends a session: a pending will goes out now [MQTT-3.1.3-9], subscriptions and queues are dropped. */
  destroySession(session: Session): void {
    if (this.sessions.get(session.clientId) !== session) return;
    this.willsAndExpiry.cancel(session);
    const will = session.pendingWill;
    session.pendingWill = undefined;
    this.router.removeAll(session);
    session.clearOutgoing();
    this.sessions.delete(session.clientId);
    this.stats.sessions = this.sessions.size;
    if (session.stored) {
      session.stored = false;
      void this.store.deleteSession(session.clientId);
    }
    if (will !== undefined) this.willsAndExpiry.publishWill(will);
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

  // ---- what channels and local clients ask for: handed to the parts ----

  /** Adds or replaces a subscription [MQTT-3.8.4-3]. Returns true if it did not exist. */
  subscribe(session: Session, sub: Subscription<Session>): boolean {
    return this.router.subscribe(session, sub);
  }

  unsubscribe(session: Session, filter: string): boolean {
    return this.router.unsubscribe(session, filter);
  }

  /** Retained messages for a new subscription, per Retain Handling [MQTT-3.3.1-9..11]. */
  sendRetained(session: Session, sub: Subscription<Session>, isNew: boolean): void {
    this.retained.sendOnSubscribe(session, sub, isNew);
  }

  /** Routes a message to every matching session (Router.route: when the result is a Promise, acks wait for it). */
  route(message: Message, publisher?: Holdable): Promise<unknown> | undefined {
    return this.router.route(message, publisher);
  }

  /** Whether anyone subscribes to `topic` now (in-process publishers skip messages nobody reads). */
  hasSubscribers(topic: string): boolean {
    return this.router.hasSubscribers(topic);
  }

  /** The last route() found sessions for the message but every one refused it for a limit. */
  get quotaRefused(): boolean {
    return this.router.quotaRefused;
  }

  /** The read ACL at delivery (BrokerHooks.authorizeDeliver), for a session whose client is known. */
  private mayRead(session: Session, topic: string): boolean {
    const canRead = this.hooks.authorizeDeliver;
    return canRead === undefined || session.client === undefined || canRead(session.client, topic);
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

function isConnection(link: unknown): link is EngineConnection {
  return typeof (link as EngineConnection).disconnect === 'function';
}
