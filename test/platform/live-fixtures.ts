// Shared fixtures for the platform tests that run real parts in process: the broker behind a loopback
// TCP server, an edge (all-in-one) bridged to a cloud platform, an MQTT.js client playing a gateway,
// and a poll-until helper for what arrives asynchronously.
import net from 'node:net';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Broker } from '../../src/broker/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/log.ts';
import { startAllInOne, type AllInOne, type AllInOneOptions } from '../../src/platform/all-in-one.ts';
import { startPlatformApp, type PlatformApp, type PlatformAppOptions } from '../../src/platform/app.ts';
import { CloudLink } from '../../src/platform/edge/cloud-link.ts';

/** Polls `probe` until it gives a value (not undefined or false); fails naming `what` after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A broker in process behind a TCP server on 127.0.0.1 that a test can take down and bring back on the same port. */
export class TcpBroker {
  readonly broker = new Broker();
  readonly sockets = new Set<net.Socket>();
  server: net.Server | undefined;
  port = 0;

  static async start(): Promise<TcpBroker> {
    const tcp = new TcpBroker();
    await tcp.listen();
    return tcp;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    this.server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      this.broker.handle(socket, { remoteAddress: socket.remoteAddress, transport: 'tcp' });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Closes the server and cuts every connection (an outage). */
  async down(): Promise<void> {
    const closed = new Promise((resolve) => this.server!.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  async close(): Promise<void> {
    await this.broker.close();
    await this.down().catch(() => undefined);
  }
}

/** An MQTT.js client connected as gateway `gw` (client id `mqiot-gw-<gw>`) and subscribed to its down topic. */
export async function connectGateway(
  url: string,
  gw: string,
  options: IClientOptions = {},
): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { clientId: `mqiot-gw-${gw}`, reconnectPeriod: 0, ...options });
  await client.subscribeAsync(`mqiot/gw/${gw}/down`, { qos: 1 });
  return client;
}

/** The all-in-one (broker and platform) on 127.0.0.1 port 0, as an edge site runs it, silent. */
export async function startEdge(dataDir: string, platform?: AllInOneOptions['platform']): Promise<AllInOne> {
  const config = loadConfig({
    env: {},
    overrides: {
      broker: { host: '127.0.0.1', port: 0, wsPort: null, metricsPort: null, sys: { interval: 0 } },
    },
  });
  return startAllInOne({
    broker: config.broker,
    dataDir,
    http: { host: '127.0.0.1', port: 0 },
    platform,
    logger: createLogger({ level: 'silent' }),
  });
}

export interface EdgeAndCloud {
  /** The cloud broker, which a test can take down (`cloud.down()`) and bring back (`cloud.listen()`). */
  cloud: TcpBroker;
  cloudApp: PlatformApp;
  edge: AllInOne;
  /** The edge's bridge to the cloud broker, started. */
  link: CloudLink;
  close(): Promise<void>;
}

/**
 * A cloud platform on its own broker and an edge bridged to it; data in `dir`/cloud and `dir`/edge.
 * `cloudApp` adds to the cloud platform's options (its MQTT client id, HTTP, config).
 */
export async function startEdgeAndCloud(
  dir: string,
  cloudApp: Omit<PlatformAppOptions, 'dataDir' | 'mqtt'> & { clientId: string; shareGroup?: string },
  linkClientId: string,
): Promise<EdgeAndCloud> {
  const parts: Partial<EdgeAndCloud> = {};
  const close = async (): Promise<void> => {
    await parts.link?.close();
    await parts.edge?.close();
    await parts.cloudApp?.close();
    await parts.cloud?.close();
  };
  try {
    const cloud = (parts.cloud = await TcpBroker.start());
    const { clientId, shareGroup, ...appOptions } = cloudApp;
    parts.cloudApp = await startPlatformApp({
      ...appOptions,
      dataDir: join(dir, 'cloud'),
      mqtt: { url: cloud.url, clientId, ...(shareGroup === undefined ? {} : { shareGroup }) },
    });
    parts.edge = await startEdge(join(dir, 'edge'));
    parts.link = new CloudLink(parts.edge.broker, {
      cloudUrl: cloud.url,
      clientId: linkClientId,
      queuePath: join(dir, 'edge', 'forward.db'),
      reconnectMs: 100,
    });
    parts.link.start();
    return { ...(parts as Required<Omit<EdgeAndCloud, 'close'>>), close };
  } catch (err) {
    await close();
    throw err;
  }
}
