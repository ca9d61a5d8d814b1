// An edge bridged to a cloud: uplinks reach the cloud platform; during a cloud outage they wait in the
// edge's disk queue and arrive afterwards, in order and once; cloud commands reach the gateway.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { Broker } from '../../src/broker/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/log.ts';
import { startAllInOne, type AllInOne } from '../../src/platform/all-in-one.ts';
import { startPlatformApp, type PlatformApp } from '../../src/platform/app.ts';
import { CloudLink } from '../../src/platform/edge/cloud-link.ts';
import { decodeEnvelope, encodeEnvelope, type Envelope } from '../../src/protocol/envelope.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const DLT_ENERGY = hex('68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16');

async function until<T>(
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

/** The cloud broker behind a TCP server that the test can take down and bring back on the same port. */
class CloudBroker {
  readonly broker = new Broker();
  readonly sockets = new Set<net.Socket>();
  server: net.Server | undefined;
  port = 0;
  async listen(): Promise<void> {
    this.server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      this.broker.handle(socket, { remoteAddress: socket.remoteAddress, transport: 'tcp' });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }
  async down(): Promise<void> {
    const closed = new Promise((resolve) => this.server!.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}

describe('edge bridged to a cloud', () => {
  let dir: string;
  let cloud: CloudBroker;
  let cloudApp: PlatformApp;
  let edge: AllInOne;
  let link: CloudLink;
  let gateway: MqttClient;
  const down: Envelope[] = [];
  let seq = 1;

  const up = (e: Envelope) => gateway.publishAsync('mqiot/gw/site-e/up', encodeEnvelope(e), { qos: 1 });
  const data = () => {
    const now = Date.now();
    seq++;
    return up({
      v: 1,
      k: 'data',
      gw: 'site-e',
      seq,
      ts: now,
      frames: [{ dev: 'm-1', c: 'dlt645-2007', ts: now, seq, raw: DLT_ENERGY }],
    });
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-edge-'));
    cloud = new CloudBroker();
    await cloud.listen();
    const cloudUrl = `mqtt://127.0.0.1:${cloud.port}`;
    cloudApp = await startPlatformApp({
      dataDir: join(dir, 'cloud'),
      mqtt: { url: cloudUrl, clientId: 'mqiot-platform-cloud', shareGroup: 'platform' },
      config: { commandTimeoutMs: 5000 },
    });
    const config = loadConfig({
      env: {},
      overrides: {
        broker: { host: '127.0.0.1', port: 0, wsPort: null, metricsPort: null, sys: { interval: 0 } },
      },
    });
    edge = await startAllInOne({
      broker: config.broker,
      dataDir: join(dir, 'edge'),
      http: { host: '127.0.0.1', port: 0 },
      logger: createLogger({ level: 'silent' }),
    });
    link = new CloudLink(edge.broker, {
      cloudUrl,
      clientId: 'mqiot-edge-test',
      queuePath: join(dir, 'edge', 'forward.db'),
      reconnectMs: 100,
    });
    link.start();
    gateway = await mqtt.connectAsync(edge.mqttUrl, { clientId: 'mqiot-gw-site-e', reconnectPeriod: 0 });
    await gateway.subscribeAsync('mqiot/gw/site-e/down', { qos: 1 });
    gateway.on('message', (_t, payload) => down.push(decodeEnvelope(payload)));
  });

  after(async () => {
    await gateway?.endAsync();
    await link?.close();
    await edge?.close();
    await cloudApp?.close();
    await cloud?.broker.close();
    await cloud?.down().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('decodes at the edge and forwards the uplinks to the cloud platform', async () => {
    await up({
      v: 1,
      k: 'birth',
      gw: 'site-e',
      seq: 1,
      ts: Date.now(),
      epoch: 'e1',
      devices: [{ dev: 'm-1', c: 'dlt645-2007' }],
    });
    await data();
    await until('edge reading', async () => (await edge.app.store.countPoints('m-1')) === 1);
    await until('cloud reading', async () => (await cloudApp.store.countPoints('m-1')) === 1);
    assert.equal((await cloudApp.store.getDevice('m-1'))?.contractId, 'dlt645-2007');
  });

  it('queues on disk through a cloud outage and delivers afterwards, in order, once', async () => {
    await cloud.down();
    for (let i = 0; i < 5; i++) await data();
    await until('queued at the edge', () => link.queue.depth === 5);
    assert.equal(await cloudApp.store.countPoints('m-1'), 1, 'nothing reached the cloud meanwhile');
    assert.equal(await edge.app.store.countPoints('m-1'), 6, 'the edge kept working');
    await cloud.listen();
    // The cloud applies a gateway's ordered messages only in increasing seq: all 6 stored means in order.
    await until('delivered', async () => (await cloudApp.store.countPoints('m-1')) === 6);
    await until('queue empty', () => link.queue.depth === 0);
    const frames = await cloudApp.store.frames({ deviceId: 'm-1', limit: 10 });
    assert.deepEqual(
      frames.map((f) => f.groupSeq).sort((a, b) => a - b),
      [2, 3, 4, 5, 6, 7],
    );
  });

  it('a command from the cloud platform reaches the gateway through the edge', async () => {
    const record = await cloudApp.platform.sendCommand({
      deviceId: 'm-1',
      action: 'read',
      params: { di: '00010000' },
    });
    const cmd = await until('cmd at the gateway', () =>
      down.find((e) => e.k === 'cmd' && e.id === record.id),
    );
    assert.equal(cmd.k, 'cmd');
    await up({
      v: 1,
      k: 'cmd-result',
      gw: 'site-e',
      seq: ++seq,
      ts: Date.now(),
      id: record.id,
      dev: 'm-1',
      ok: true,
    });
    await until(
      'executed in the cloud',
      async () => (await cloudApp.store.getCommand(record.id))?.state === 'executed',
    );
  });
});
