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

/** The TLS listener: PEM files; it starts only when `cert` and `key` are both set. */
export interface ListenerTlsOptions {
  port: number;
  /** PEM certificate chain file. */
  cert: string | null;
  /** PEM private key file. */
  key: string | null;
  /** PEM CA bundle; when set, client certificates are requested and verified. */
  ca: string | null;
}

/** Where the broker listens. Plain data: the wiring room hands its configuration section over as it is. */
export interface ListenerOptions {
  /** Interface to listen on; `0.0.0.0` = all IPv4 interfaces, `::` = all interfaces. */
  host: string;
  /** MQTT over TCP; 0 lets the system pick a free port. */
  port: number;
  /** MQTT over WebSocket; null turns it off. */
  wsPort: number | null;
  tls: ListenerTlsOptions;
  /** Prometheus text on `/metrics`; null turns it off. */
  metricsPort: number | null;
}

/** A PEM file of the TLS listener cannot be read; `field` is `cert`, `key` or `ca`. */
export class TlsFileError extends Error {
  readonly field: 'cert' | 'key' | 'ca';
  readonly file: string;
  readonly problem: string;
  constructor(field: 'cert' | 'key' | 'ca', file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: tls.${field}: ${problem}`, options);
    this.name = 'TlsFileError';
    this.field = field;
    this.file = file;
    this.problem = problem;
  }
}

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
