/**
 * Broker: the public face of the engine (docs/broker.md "Using it from code"). Listeners call `handle(stream)`
 * for each connection; in-process parts use `createLocalClient`; `publish` is for the server itself.
 */
import type { Duplex } from 'node:stream';
import { ReasonCode } from '../protocol/reason-codes.ts';
import { isValidTopicName } from '../protocol/topic.ts';
import { SocketConnection } from './socket-connection.ts';
import { BrokerCore } from './core.ts';
import { LocalClientError, LocalLink } from './local-client.ts';
import {
  ConnectionState,
  type ConnectionMeta,
  type LocalClient,
  type Message,
  type PublishProperties,
  type QoS,
} from './types.ts';

export type { BrokerDeps } from './core.ts';

export class Broker extends BrokerCore {
  private closing = false;

  /** Serves one MQTT connection (TCP, TLS or WebSocket stream). */
  handle(stream: Duplex, meta: ConnectionMeta = {}): void {
    if (this.closing) {
      stream.destroy();
      return;
    }
    if (!this.loaded) {
      stream.pause();
      void this.ready.then(() => {
        stream.resume();
        this.handle(stream, meta);
      });
      return;
    }
    this.channels.add(new SocketConnection(this, stream, meta).channel);
  }

  /** Server-originated message ($SYS, platform). */
  publish(message: {
    topic: string;
    payload: Buffer;
    qos?: QoS;
    retain?: boolean;
    properties?: PublishProperties;
  }): void {
    if (!isValidTopicName(message.topic)) throw new LocalClientError(`invalid topic name: ${message.topic}`);
    const expiry = message.properties?.messageExpiryInterval ?? 0;
    const m: Message = {
      topic: message.topic,
      payload: message.payload,
      qos: message.qos ?? 0,
      retain: message.retain ?? false,
      properties: message.properties,
      expiresAt: expiry > 0 ? this.clock.now() + expiry * 1000 : 0,
      origin: '',
    };
    void this.route(m);
  }

  /** In-process client with the same routing as network clients; no persistence. */
  createLocalClient(clientId: string): LocalClient {
    const existing = this.sessions.get(clientId);
    if (existing !== undefined) {
      if (existing.link instanceof LocalLink) existing.link.close();
      else if (existing.link !== null)
        (existing.link as unknown as { disconnect(code: number): void }).disconnect(
          ReasonCode.SessionTakenOver,
        );
      this.destroySession(existing);
    }
    const session = this.newSession(clientId, 0, 5, true);
    const link = new LocalLink(this, session);
    session.link = link;
    return link;
  }

  /**
   * Ends every connection of `username` at once (credential revocation): v5 clients get DISCONNECT
   * 0x87 Not authorized, 3.1/3.1.1 ones are closed; connections still authenticating as that user are
   * closed too, so a check that started before the revocation cannot let them in. Wills go out as for
   * any abnormal close. Sessions stay until they expire (a client that gets new credentials for the
   * same user resumes them). Returns how many connections were ended.
   */
  disconnectUser(username: string): number {
    let n = 0;
    for (const ch of [...this.channels]) {
      if (ch.info.username !== username || ch.state === ConnectionState.Closed) continue;
      ch.disconnect(ReasonCode.NotAuthorized);
      n++;
    }
    return n;
  }

  /** Graceful shutdown: v5 clients get DISCONNECT 0x8B (server shutting down), timers stop, the store closes. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const ch of [...this.channels]) ch.disconnect(ReasonCode.ServerShuttingDown);
    for (const session of this.sessions.values()) this.cancelTimers(session);
    await this.store.close();
  }
}
