/**
 * In-process client (rumqttd's link/local.rs idea): a session like any other, routed by the same
 * engine, but its messages arrive as function calls instead of bytes.
 */
import { topicMatches, isValidTopicFilter, isValidTopicName, parseSharedFilter } from '../protocol/topic.ts';
import type { BrokerCore } from './core.ts';
import type { Session, SessionLink } from './session.ts';
import { Subscription } from './subscription.ts';
import type { LocalClient, LocalMessage, Message, PublishProperties, QoS } from './types.ts';

type Handler = (msg: LocalMessage) => void;

export class LocalClientError extends Error {
  override readonly name = 'LocalClientError';
}

export class LocalLink implements LocalClient, SessionLink {
  readonly sendQuota = Number.MAX_SAFE_INTEGER;
  private readonly handlers = new Map<string, { filter: string; onMessage: Handler }>();
  private closed = false;

  constructor(
    private readonly broker: BrokerCore,
    private readonly session: Session,
  ) {}

  get clientId(): string {
    return this.session.clientId;
  }

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
    this.handlers.set(filter, { filter: sub.topicFilter, onMessage });
    const isNew = this.broker.subscribe(this.session, sub);
    this.broker.sendRetained(this.session, sub, isNew);
  }

  unsubscribe(filter: string): void {
    this.assertOpen();
    this.handlers.delete(filter);
    this.broker.unsubscribe(this.session, filter);
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
      expiresAt: expiry > 0 ? this.broker.clock.now() + expiry * 1000 : 0,
      origin: this.session.clientId,
    };
    void this.broker.route(message);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.session.link = null;
    this.broker.destroySession(this.session);
  }

  private assertOpen(): void {
    if (this.closed) throw new LocalClientError('local client is closed');
  }

  // ---- SessionLink ----

  isBackedUp(): boolean {
    return false;
  }

  writePublish(message: Message, qos: QoS, retain: boolean): boolean {
    this.broker.stats.messagesSent++;
    const msg: LocalMessage = { topic: message.topic, payload: message.payload, qos, retain };
    if (message.properties !== undefined) msg.properties = message.properties;
    for (const h of this.handlers.values()) {
      if (!topicMatches(h.filter, message.topic)) continue;
      try {
        h.onMessage(msg);
      } catch (err) {
        this.broker.logger.error(
          { err, clientId: this.clientId, topic: message.topic },
          'local subscriber threw',
        );
      }
    }
    return true;
  }

  writePubrel(): void {}
}
