// Test harness for the gateway: a real Mosquitto, our broker in-process, a fake platform speaking the
// envelope protocol over MQTT.js, temp dirs.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import type { Broker } from '../../src/broker/index.ts';
import {
  decodeEnvelope,
  encodeEnvelope,
  type DownlinkEnvelope,
  type Envelope,
  type UplinkEnvelope,
} from '../../src/protocol/envelope.ts';
import { gatewayDownTopic } from '../../src/protocol/gateway-topics.ts';

export { waitFor } from '../sim/helpers.ts';

export function tempDir(prefix = 'mqiot-gw-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export interface TestBroker {
  name: string;
  /** Our broker only: the running instance (for local clients); replaced by each start(). */
  broker?: Broker;
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** Our broker (src/broker) in-process behind a net.Server on loopback; stop/start keep the port. */
export async function startOurBroker(): Promise<TestBroker> {
  const { Broker: BrokerClass } = await import('../../src/broker/index.ts');
  let port = 0;
  let server: net.Server | undefined;
  let broker: Broker | undefined;
  const sockets = new Set<net.Socket>();
  const handle: TestBroker = {
    name: 'mqiot broker',
    url: '',
    port: 0,
    async start() {
      const b = new BrokerClass();
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

/** Debian's Mosquitto on a free loopback port; stop/start keep the port (for outage tests). */
export async function startMosquitto(): Promise<TestBroker> {
  const port = await freePort();
  const tmp = tempDir('mqiot-mosq-');
  const conf = join(tmp.dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  let child: ChildProcess | undefined;
  const broker: TestBroker = {
    name: 'mosquitto',
    url: `mqtt://127.0.0.1:${port}`,
    port,
    async start() {
      child = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
      for (let i = 0; i < 200; i++) {
        if (await canConnect(port)) return;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error('mosquitto did not start');
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      });
    },
  };
  await broker.start();
  process.once('exit', () => {
    child?.kill('SIGKILL');
    tmp.cleanup();
  });
  return broker;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export interface PlatformOptions {
  /** Answer every birth with a heartbeat, and keep sending heartbeats at this period (ms). */
  heartbeatMs?: number;
  /** Acknowledge reports (default true). */
  ackReports?: boolean;
}

/** A stand-in for the platform: records uplink envelopes, sends downlink ones. */
export class FakePlatform {
  readonly received: UplinkEnvelope[] = [];
  private client!: MqttClient;
  private timer: NodeJS.Timeout | undefined;
  heartbeats = true;
  ackReports: boolean;

  constructor(
    private readonly url: string,
    private readonly gw: string,
    private readonly options: PlatformOptions = {},
  ) {
    this.ackReports = options.ackReports ?? true;
  }

  async start(): Promise<void> {
    this.client = mqtt.connect(this.url, { clientId: `platform-${Math.random()}`, reconnectPeriod: 100 });
    this.client.on('message', (_topic, payload) => this.onUp(payload));
    this.client.on('error', () => undefined);
    await new Promise<void>((resolve) => this.client.once('connect', () => resolve()));
    await this.client.subscribeAsync('mqiot/gw/+/up', { qos: 1 });
    this.client.on(
      'connect',
      () => void this.client.subscribeAsync('mqiot/gw/+/up', { qos: 1 }).catch(() => undefined),
    );
    if (this.options.heartbeatMs)
      this.timer = setInterval(() => {
        if (this.heartbeats) this.heartbeat();
      }, this.options.heartbeatMs);
  }

  private onUp(payload: Buffer): void {
    const msg = decodeEnvelope(payload) as UplinkEnvelope;
    this.received.push(msg);
    if (msg.k === 'birth' && this.heartbeats) this.heartbeat();
    if (msg.k === 'report' && this.ackReports)
      this.send({ v: 1, k: 'report-ack', gw: this.gw, ts: Date.now(), ack: msg.seq });
  }

  heartbeat(): void {
    this.send({ v: 1, k: 'heartbeat', gw: this.gw, ts: Date.now(), interval: this.options.heartbeatMs });
  }

  send(msg: DownlinkEnvelope): void {
    if (this.client.connected)
      this.client.publish(gatewayDownTopic(this.gw), encodeEnvelope(msg), { qos: 1 });
  }

  of<K extends Envelope['k']>(k: K): Extract<UplinkEnvelope, { k: K }>[] {
    return this.received.filter((m) => m.k === k) as Extract<UplinkEnvelope, { k: K }>[];
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.client.endAsync(true);
  }
}
