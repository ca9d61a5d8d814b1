import type { Duplex } from 'node:stream';
import type { BrokerStats, ConnectionMeta, PublishProperties, QoS } from '../types.ts';

/**
 * What the listeners, metrics and $SYS need from the broker: the narrow seam lets these parts be
 * tested on their own and keeps them out of the protocol engine.
 */
export interface BrokerLike {
  handle(stream: Duplex, meta?: ConnectionMeta): void;
  readonly stats: BrokerStats;
  publish(message: {
    topic: string;
    payload: Buffer;
    qos?: QoS;
    retain?: boolean;
    properties?: PublishProperties;
  }): void;
  close(): Promise<void>;
}

export type Transport = 'tcp' | 'tls' | 'ws' | 'metrics';

/** A started listener: where it listens, and how to stop it. */
export interface Listener {
  readonly transport: Transport;
  readonly host: string;
  readonly port: number;
  /** Stops accepting new connections; existing ones are left to the broker. */
  stopAccepting(): void;
  /** Resolves when every connection of this listener has ended; destroys the rest after `graceMs`. */
  drain(graceMs: number): Promise<void>;
}
