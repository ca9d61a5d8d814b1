/** Test helpers: a broker on a real loopback TCP listener, MQTT.js clients, raw sockets. */
import { once } from 'node:events';
import net from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Broker, type BrokerDeps, type BrokerOptions } from '../../src/broker/index.ts';

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
      await delay(50); // let DISCONNECT packets reach the clients
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Waits until `fn` returns true (polling), or fails after `ms`. */
export async function waitFor(fn: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!fn()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** SUBACK codes of one subscribe (MQTT.js rejects the promise when any code is a failure). */
export function subackCodes(
  c: MqttClient,
  filters: string[],
  qos: 0 | 1 | 2,
  opts: object = {},
): Promise<number[]> {
  return new Promise((resolve) => {
    const onPacket = (p: mqtt.Packet): void => {
      if (p.cmd !== 'suback') return;
      c.removeListener('packetreceive', onPacket);
      resolve(p.granted as number[]);
    };
    c.on('packetreceive', onPacket);
    c.subscribe(filters, { qos, ...opts }, () => {});
  });
}

/** Collects messages of a client. */
export function collect(c: MqttClient): { topic: string; payload: string; packet: mqtt.IPublishPacket }[] {
  const out: { topic: string; payload: string; packet: mqtt.IPublishPacket }[] = [];
  c.on('message', (topic, payload, packet) => out.push({ topic, payload: payload.toString(), packet }));
  return out;
}
