// Linkage rules at the edge: the edge copies the cloud's rules over its HTTP API and keeps the copy in
// its store; while the cloud link is up the cloud acts and the edge's copy stands by (one command,
// not two); in a cloud outage the edge carries the rule out itself; a failed pull keeps the last copy.
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
import { systemClock } from '../../src/platform/clock.ts';
import { CloudLink } from '../../src/platform/edge/cloud-link.ts';
import { RulesMirror, RulesMirrorError } from '../../src/platform/rules/rules-mirror.ts';
import {
  decodeEnvelope,
  encodeEnvelope,
  type CmdEnvelope,
  type Envelope,
} from '../../src/protocol/envelope.ts';

const GW = 'site-r';

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

/** Modbus TCP read-holding-registers answer: holding.3 = `value`. */
function modbusFrame(value: number): Uint8Array {
  return Uint8Array.from([0, 1, 0, 0, 0, 7, 1, 3, 4, value >> 8, value & 0xff, 0, 0]);
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

const RULE = {
  id: 'pm-high',
  when: { device: 'pm-1', point: 'holding.3', op: '>', value: 100 },
  then: [
    {
      type: 'command',
      device: 'pm-1',
      action: 'write-single-register',
      params: { unit: 1, address: 3, value: 0 },
    },
  ],
};

describe('linkage rules at the edge (copied from the cloud, run locally in an outage)', () => {
  let dir: string;
  let cloud: CloudBroker;
  let cloudApp: PlatformApp;
  let edge: AllInOne;
  let link: CloudLink;
  let mirror: RulesMirror;
  let gateway: MqttClient;
  const cmds: CmdEnvelope[] = [];
  let seq = 1;
  let frameSeq = 0;

  const up = (e: Envelope) => gateway.publishAsync(`mqiot/gw/${GW}/up`, encodeEnvelope(e), { qos: 1 });
  const reading = (value: number) => {
    const ts = Date.now();
    return up({
      v: 1,
      k: 'data',
      gw: GW,
      seq: ++seq,
      ts,
      frames: [
        {
          dev: 'pm-1',
          c: 'modbus-tcp',
          ts,
          seq: frameSeq++,
          raw: modbusFrame(value),
          ctx: { unit: 1, function: 3, start: 3, count: 2 },
        },
      ],
    });
  };
  const latest = async (app: PlatformApp, value: number) =>
    until(`${value} stored`, async () => {
      const p = (await app.store.latest('pm-1')).find((x) => x.name === 'holding.3');
      if (p?.value !== value) return false;
      await app.platform.whenIdle();
      await app.platform.rules.whenIdle();
      return true;
    });
  const history = async (app: PlatformApp) => app.platform.rules.history('pm-high');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-rules-edge-'));
    cloud = new CloudBroker();
    await cloud.listen();
    const cloudUrl = `mqtt://127.0.0.1:${cloud.port}`;
    cloudApp = await startPlatformApp({
      dataDir: join(dir, 'cloud'),
      mqtt: { url: cloudUrl, clientId: 'mqiot-platform-cloud-r' },
      http: { host: '127.0.0.1', port: 0 },
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
      clientId: 'mqiot-edge-rules-test',
      queuePath: join(dir, 'edge', 'forward.db'),
      reconnectMs: 100,
    });
    link.start();
    gateway = await mqtt.connectAsync(edge.mqttUrl, { clientId: `mqiot-gw-${GW}`, reconnectPeriod: 0 });
    await gateway.subscribeAsync(`mqiot/gw/${GW}/down`, { qos: 1 });
    // The gateway executes every command and acknowledges it.
    gateway.on('message', (_t, payload) => {
      const e = decodeEnvelope(payload);
      if (e.k !== 'cmd') return;
      cmds.push(e);
      void up({ v: 1, k: 'cmd-result', gw: GW, seq: ++seq, ts: Date.now(), id: e.id, dev: e.dev, ok: true });
    });
    await until('cloud link up', () => link.connected);
    await up({
      v: 1,
      k: 'birth',
      gw: GW,
      seq: 1,
      ts: Date.now(),
      epoch: 'e1',
      devices: [{ dev: 'pm-1', c: 'modbus-tcp' }],
    });
    await until('device at the cloud', async () => (await cloudApp.store.getDevice('pm-1')) !== undefined);
  });

  after(async () => {
    await mirror?.stop();
    await gateway?.endAsync();
    await link?.close();
    await edge?.close();
    await cloudApp?.close();
    await cloud?.broker.close();
    await cloud?.down().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the edge copies the cloud rules into its own store', async () => {
    const created = await fetch(`${cloudApp.url}/api/rules`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(RULE),
    });
    assert.equal(created.status, 201);
    mirror = new RulesMirror(
      { engine: edge.app.platform.rules, store: edge.app.store, clock: systemClock },
      { cloudApiUrl: cloudApp.url!, cloudUp: () => link.connected, intervalMs: 60_000 },
    );
    await mirror.start();
    assert.deepEqual([...mirror.mirrored], ['pm-high']);
    const copy = await edge.app.store.getRule('pm-high');
    assert.deepEqual(copy?.definition.when, RULE.when);
  });

  it('link up: the cloud acts, the edge copy stands by (one command, not two) but follows the state', async () => {
    await reading(250);
    await latest(edge.app, 250);
    await latest(cloudApp, 250);
    const cmd = await until('command at the gateway', () => cmds[0]);
    await until(
      'executed in the cloud',
      async () => (await cloudApp.store.getCommand(cmd.id))?.state === 'executed',
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(cmds.length, 1);
    assert.equal((await history(cloudApp)).length, 1);
    assert.equal((await history(edge.app)).length, 0);
    assert.equal(edge.app.platform.rules.status('pm-high')['pm-1'], 'fired');
    await reading(50); // re-arms both
    await latest(edge.app, 50);
    await latest(cloudApp, 50);
  });

  it('cloud outage: the edge carries the rule out itself and the command is executed at the edge', async () => {
    await cloud.down();
    await until('link down', () => !link.connected);
    await reading(300);
    await latest(edge.app, 300);
    const cmd = await until('command from the edge', () => cmds[1]);
    await until(
      'executed at the edge',
      async () => (await edge.app.store.getCommand(cmd.id))?.state === 'executed',
    );
    const fired = await history(edge.app);
    assert.equal(fired.length, 1);
    assert.equal(fired[0]?.detail.commandId, cmd.id);
    assert.equal(fired[0]?.detail.value, 300);
    assert.equal((await history(cloudApp)).length, 1, 'the cloud saw nothing meanwhile');
  });

  it('a pull that fails keeps the last copy (an edge restarted in an outage still has its rules)', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const offline = new RulesMirror(
      { engine: edge.app.platform.rules, store: edge.app.store, clock: systemClock },
      { cloudApiUrl: `http://127.0.0.1:${port}`, cloudUp: () => false },
    );
    await offline.start();
    await assert.rejects(offline.pull(), RulesMirrorError);
    await offline.stop();
    assert.deepEqual([...offline.mirrored], ['pm-high']);
    assert.ok(await edge.app.store.getRule('pm-high'));
    await cloud.listen();
    await until('link back', () => link.connected);
  });
});
