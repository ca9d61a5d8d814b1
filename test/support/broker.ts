// Our broker in process for tests: on a loopback TCP listener, reachable by MQTT.js and raw sockets,
// stoppable and restartable on the same port for outage tests; and Mosquitto behind the same face.
import { once } from 'node:events';
import net from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Broker, type BrokerDeps, type BrokerOptions } from '../../src/broker/index.ts';
import { Mosquitto } from './mosquitto.ts';
import { waitFor } from './wait.ts';

/** Our broker in process behind a loopback TCP server, with MQTT.js and raw clients it closes itself. */
export interface TestBroker {
  broker: Broker;
  port: number;
  url: string;
  clients: MqttClient[];
  /** `setup` runs before CONNECT goes out (attach handlers that must not miss early messages). */
  connect(opts?: IClientOptions, setup?: (c: MqttClient) => void): Promise<MqttClient>;
  raw(): Promise<net.Socket>;
  close(): Promise<void>;
}

export async function startBroker(
  options: Partial<BrokerOptions> = {},
  deps: BrokerDeps = {},
): Promise<TestBroker> {
  const broker = new Broker(options, deps);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    broker.handle(socket, { remoteAddress: socket.remoteAddress, transport: 'tcp' });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const url = `mqtt://127.0.0.1:${port}`;
  const clients: MqttClient[] = [];
  const raws: net.Socket[] = [];
  return {
    broker,
    port,
    url,
    clients,
    async connect(opts: IClientOptions = {}, setup?: (c: MqttClient) => void) {
      const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
      clients.push(c);
      setup?.(c);
      await new Promise<void>((resolve, reject) => {
        c.once('connect', () => resolve());
        c.once('error', reject);
        c.once('close', () => reject(new Error('closed before CONNACK')));
      });
      return c;
    },
    async raw() {
      const s = net.connect(port, '127.0.0.1');
      raws.push(s);
      await once(s, 'connect');
      return s;
    },
    async close() {
      for (const c of clients) c.end(true);
      for (const s of raws) s.destroy();
      await broker.close();
      // Let the DISCONNECT packets reach the clients: each socket closes once its client has read it.
      await waitFor('clients to see the DISCONNECT', () => sockets.size === 0, 2_000).catch(() => undefined);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
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

/** A broker that a test can stop and start again on the same port: ours in process, or Mosquitto. */
export interface RestartableBroker {
  name: string;
  /** Our broker only: the running instance (for local clients); replaced by each start(). */
  broker?: Broker;
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** Our broker (src/broker) in-process behind a net.Server on loopback; stop/start keep the port. */
export async function startOurBroker(): Promise<RestartableBroker> {
  let port = 0;
  let server: net.Server | undefined;
  let broker: Broker | undefined;
  const sockets = new Set<net.Socket>();
  const handle: RestartableBroker = {
    name: 'mqiot broker',
    url: '',
    port: 0,
    async start() {
      const b = new Broker();
      broker = b;
      handle.broker = b;
      server = net.createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        b.handle(socket, { remoteAddress: socket.remoteAddress, transport: 'tcp' });
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, '127.0.0.1', () => resolve());
      });
      port = (server.address() as net.AddressInfo).port;
      handle.port = port;
      handle.url = `mqtt://127.0.0.1:${port}`;
    },
    async stop() {
      const s = server;
      server = undefined;
      if (!s) return;
      await broker?.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
  await handle.start();
  return handle;
}

/** Debian's Mosquitto on a free loopback port as a RestartableBroker; stop is a crash (SIGKILL). */
export async function startMosquitto(t?: {
  after(fn: () => Promise<void>): void;
}): Promise<RestartableBroker> {
  const m = await Mosquitto.start();
  if (t) t.after(() => m.dispose());
  else process.once('exit', () => void m.dispose());
  return {
    name: 'mosquitto',
    url: m.url,
    port: m.port,
    start: () => m.start(),
    stop: () => m.stop('SIGKILL'),
  };
}
