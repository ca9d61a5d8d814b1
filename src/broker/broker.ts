/** Broker facade (stub during bring-up; replaced by the full engine). */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { parseBrokerOptions, type BrokerOptions } from './options.ts';
import type { SessionStore } from './store/types.ts';
import type {
  BrokerHooks,
  BrokerStats,
  Clock,
  ConnectionMeta,
  LocalClient,
  PublishProperties,
  QoS,
} from './types.ts';
import { systemClock } from './types.ts';

export interface BrokerDeps {
  hooks?: Partial<BrokerHooks>;
  store?: SessionStore;
  logger?: Logger;
  clock?: Clock;
}

export class Broker extends EventEmitter {
  readonly options: Readonly<BrokerOptions>;
  readonly stats: BrokerStats;
  readonly clock: Clock;

  constructor(options: Partial<BrokerOptions> = {}, deps: BrokerDeps = {}) {
    super();
    this.options = parseBrokerOptions(options);
    this.clock = deps.clock ?? systemClock;
    this.stats = {
      clientsConnected: 0,
      clientsTotal: 0,
      clientsMaximum: 0,
      sessions: 0,
      messagesReceived: 0,
      messagesSent: 0,
      publishReceived: 0,
      publishSent: 0,
      publishDropped: 0,
      bytesReceived: 0,
      bytesSent: 0,
      subscriptions: 0,
      retainedMessages: 0,
      inflightMessages: 0,
      queuedMessages: 0,
      startedAt: this.clock.now(),
    };
  }

  handle(stream: Duplex, _meta: ConnectionMeta = {}): void {
    stream.destroy();
  }

  publish(_message: {
    topic: string;
    payload: Buffer;
    qos?: QoS;
    retain?: boolean;
    properties?: PublishProperties;
  }): void {}

  createLocalClient(_clientId: string): LocalClient {
    throw new Error('not yet');
  }

  async close(): Promise<void> {}
}
