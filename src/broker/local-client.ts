/**
 * In-process client (rumqttd's link/local.rs idea): a session like any other, routed by the same
 * engine, but its messages arrive as function calls instead of bytes.
 */
import { errorText } from '../log/rate-limited.ts';
import { isValidTopicFilter, isValidTopicName, parseSharedFilter } from '../protocol/topic.ts';
import type { RateLimitedLog } from '../log/rate-limited.ts';
import type { Clock } from '../protocol/clock.ts';
import { isExpectedRefusal, LocalDeliveryRefused } from './errors.ts';
import type { Session, SessionLink } from './session.ts';
import { Subscription } from './subscription.ts';
import { TopicTree, type MatchVisitor } from './topic-tree.ts';
import type {
  BrokerStats,
  ClientInfo,
  LocalClient,
  LocalMessage,
  Message,
  PublishProperties,
  QoS,
} from './types.ts';

/** What a local client needs from the engine (the broker core provides it). */
export interface LocalClientEngine {
  readonly clock: Clock;
  readonly stats: BrokerStats;
  readonly log: RateLimitedLog;
  subscribe(session: Session, sub: Subscription<Session>): boolean;
  unsubscribe(session: Session, filter: string): boolean;
  sendRetained(session: Session, sub: Subscription<Session>, isNew: boolean): void;
  route(message: Message): unknown;
  destroySession(session: Session): void;
}

/**
 * A handler may return a Promise to take responsibility for a client's QoS 1/2 message: the
 * publisher's PUBACK/PUBREC waits for it, and a rejection refuses the message (docs/broker.md).
 */
type Handler = (msg: LocalMessage) => unknown;

/** One handler, indexed by its topic filter in the client's own small trie. */
interface HandlerEntry {
  owner: LocalLink;
  key: string; // the filter as subscribed
  onMessage: Handler;
}

export class LocalClientError extends Error {
  override readonly name = 'LocalClientError';
}

export class LocalLink implements LocalClient, SessionLink, MatchVisitor<HandlerEntry> {
  readonly sendQuota = Number.MAX_SAFE_INTEGER;
  /** Handlers by subscribed filter, and the same handlers in a trie for dispatch. */
  private readonly handlers = new Map<string, string>();
  private readonly dispatch = new TopicTree<HandlerEntry>();
  private current: LocalMessage | undefined;
  /** Promises the handlers of the current writePublish returned (rarely more than one). */
  private results: PromiseLike<unknown> | PromiseLike<unknown>[] | undefined;
  /** The results of the last writePublish, until takeResult() picks them up. */
  private taken: PromiseLike<unknown> | PromiseLike<unknown>[] | undefined;
  private closed = false;

  constructor(
    private readonly engine: LocalClientEngine,
    private readonly session: Session,
  ) {}

  get clientId(): string {
    return this.session.clientId;
  }

  /** The identity local subscribers see on this client's messages: in process, no username. */
  get info(): ClientInfo {
    return (this.#info ??= {
      clientId: this.session.clientId,
      username: undefined,
      protocolVersion: 5,
      remoteAddress: undefined,
      transport: 'local',
    });
  }
  #info: ClientInfo | undefined;

  subscribe(filter: string, options: { qos: QoS }, onMessage: Handler): void {
    this.assertOpen();
    const shared = parseSharedFilter(filter);
    if (shared === null || (shared === undefined && !isValidTopicFilter(filter))) {
      throw new LocalClientError(`invalid topic filter: ${filter}`);
    }
    const sub = new Subscription(
      this.session,
      filter,
      shared ? shared.filter : filter,
      shared ? shared.group : undefined,
      options.qos,
      false,
      false,
      0,
      undefined,
    );
    const old = this.handlers.get(filter);
    if (old !== undefined) this.dispatch.remove(old, filter);
    this.handlers.set(filter, sub.topicFilter);
    this.dispatch.add(sub.topicFilter, { owner: this, key: filter, onMessage });
    const isNew = this.engine.subscribe(this.session, sub);
    this.engine.sendRetained(this.session, sub, isNew);
  }

  unsubscribe(filter: string): void {
    this.assertOpen();
    const inner = this.handlers.get(filter);
    if (inner !== undefined) this.dispatch.remove(inner, filter);
    this.handlers.delete(filter);
    this.engine.unsubscribe(this.session, filter);
  }

  publish(
    topic: string,
    payload: Buffer,
    options: { qos?: QoS; retain?: boolean; properties?: PublishProperties } = {},
  ): void {
    this.assertOpen();
    if (!isValidTopicName(topic)) throw new LocalClientError(`invalid topic name: ${topic}`);
    const expiry = options.properties?.messageExpiryInterval ?? 0;
    const message: Message = {
      topic,
      payload,
      qos: options.qos ?? 0,
      retain: options.retain ?? false,
      properties: options.properties,
      expiresAt: expiry > 0 ? this.engine.clock.now() + expiry * 1000 : 0,
      origin: this.session.clientId,
      publisher: this.info,
    };
    void this.engine.route(message);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.session.link = null;
    this.engine.destroySession(this.session);
  }

  private assertOpen(): void {
    if (this.closed) throw new LocalClientError('local client is closed');
  }

  // ---- SessionLink ----

  isBackedUp(): boolean {
    return false;
  }

  writePublish(message: Message, qos: QoS, retain: boolean): boolean {
    this.engine.stats.messagesSent++;
    const msg: LocalMessage = { topic: message.topic, payload: message.payload, qos, retain };
    if (message.properties !== undefined) msg.properties = message.properties;
    if (message.publisher !== undefined) msg.publisher = message.publisher;
    // saved and restored: a handler may publish, and that routing may come back to this client
    const outer = this.current;
    const outerResults = this.results;
    this.current = msg;
    this.results = undefined;
    this.dispatch.match(message.topic, this);
    this.taken = this.results;
    this.current = outer;
    this.results = outerResults;
    return true;
  }

  onSubscription(entry: HandlerEntry): void {
    const msg = this.current!;
    let r: unknown;
    try {
      r = entry.onMessage(msg);
    } catch (err) {
      // a bug, so the stack is kept, but bad input may trigger it on every message: rate limited
      this.engine.log.log(
        'error',
        'local-threw',
        { err, clientId: this.clientId, topic: msg.topic },
        'local subscriber threw',
      );
      return;
    }
    // the fast path: nothing to wait for (any non-thenable result, e.g. `(m) => list.push(m)`)
    if (typeof (r as PromiseLike<unknown> | undefined)?.then !== 'function') return;
    const p = r as PromiseLike<unknown>;
    // logged here because nobody may wait for it (QoS 0, server-originated messages)
    // a refusal the subscriber reports itself (`expected: true`, e.g. the platform's rejected uplinks,
    // counted and logged there at a limited rate) is not logged again per message; any other refusal
    // is the handler's answer to what it was given: no stack, rate limited
    p.then(undefined, (err: unknown) => {
      if (isExpectedRefusal(err)) return;
      this.engine.log.log(
        'warn',
        'local-refused',
        { clientId: this.clientId, topic: msg.topic, error: errorText(err) },
        'local subscriber refused',
      );
    });
    const held = this.results;
    if (held === undefined) this.results = p;
    else if (Array.isArray(held)) held.push(p);
    else this.results = [held, p];
  }

  takeResult(): Promise<unknown> | undefined {
    const held = this.taken;
    if (held === undefined) return undefined;
    this.taken = undefined;
    const all = Array.isArray(held) ? Promise.all(held) : Promise.resolve(held);
    return all.then(undefined, (err: unknown) => {
      throw new LocalDeliveryRefused(`local client ${this.clientId} refused the message`, { cause: err });
    });
  }

  onSharedGroup(): void {}

  writePubrel(): void {}
}
