import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { systemClock, type Clock } from './clock.ts';
import type { AccessOptions } from './config.ts';
import { AccessCounters } from './counters.ts';
import type { Registry } from 'prom-client';
import { accessRegistry, type SessionView } from './metrics.ts';
import { ClientSession } from './client-session.ts';

export interface AccessProxyDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly random?: () => number;
}

/**
 * The access module: an MQTT listener whose every client gets a session on both brokers
 * (ClientSession), plus the Prometheus endpoint.
 */
export class AccessProxy {
  readonly counters = new AccessCounters();
  readonly sessions = new Set<ClientSession>();
  private readonly server: net.Server;
  private metricsServer: http.Server | undefined;
  #registry: Registry | undefined;
  private readonly clock: Clock;

  constructor(
    readonly options: AccessOptions,
    private readonly deps: AccessProxyDeps = {},
  ) {
    this.clock = deps.clock ?? systemClock;
    this.server = net.createServer((socket) => {
      socket.setNoDelay(true);
      this.handle(socket);
    });
  }

  /** One client connection (any duplex carrying MQTT). */
  handle(stream: Duplex): ClientSession {
    const session = new ClientSession(stream, {
      options: this.options,
      clock: this.clock,
      counters: this.counters,
      ...(this.deps.logger && { logger: this.deps.logger }),
      ...(this.deps.random && { random: this.deps.random }),
      onClose: (s) => this.sessions.delete(s),
    });
    this.sessions.add(session);
    return session;
  }

  /** Starts the MQTT listener (and `/metrics` when a metrics port is configured). */
  async listen(): Promise<{ port: number; metricsPort?: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.listenPort, this.options.listenHost, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const port = (this.server.address() as AddressInfo).port;
    if (this.options.metricsPort === undefined) return { port };
    const metricsServer = http.createServer((req, res) => {
      if (req.url === '/metrics') {
        this.metrics().then(
          (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text),
          () => res.writeHead(500).end(),
        );
      } else if (req.url === '/status') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(this.status()));
      } else {
        res.writeHead(404).end();
      }
    });
    this.metricsServer = metricsServer;
    await new Promise<void>((resolve, reject) => {
      metricsServer.once('error', reject);
      metricsServer.listen(this.options.metricsPort, this.options.metricsHost, () => resolve());
    });
    return { port, metricsPort: (metricsServer.address() as AddressInfo).port };
  }

  /** The module's Prometheus text (its own registry, made on first use). */
  metrics(): Promise<string> {
    this.#registry ??= accessRegistry(this.counters, () => this.views());
    return this.#registry.metrics();
  }

  status(): object {
    return {
      clients: [...this.sessions].filter((s) => s.isReady).map((s) => s.describe()),
      recent: this.counters.recent,
    };
  }

  private *views(): Iterable<SessionView> {
    for (const s of this.sessions) {
      if (s.isReady) yield { active: s.active, upstreamUp: [s.links[0].isUp, s.links[1].isUp] };
    }
  }

  /** Stops listening and ends every session (v5 clients get DISCONNECT 0x8B). */
  async close(): Promise<void> {
    for (const session of [...this.sessions]) session.shutdown();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.metricsServer) {
      this.metricsServer.closeAllConnections();
      await new Promise<void>((resolve) => this.metricsServer!.close(() => resolve()));
    }
  }
}
