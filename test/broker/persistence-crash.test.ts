/**
 * Black box: `mqiot broker --persistence FILE` is killed with SIGKILL after acknowledging messages;
 * a new broker process on the same file still delivers every one of them to the persistent session
 * that was offline, and the retained message is still there.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { logLines, startBrokerCli, startUp, type RunningCli } from '../support/cli.ts';
import { connectClient } from '../support/mqtt.ts';
import { waitFor } from '../support/wait.ts';

const N_QOS1 = 200;
const N_QOS2 = 100;

const dir = mkdtempSync(join(tmpdir(), 'mqiot-crash-'));
const running: RunningCli[] = [];
const clients: MqttClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  await Promise.all(running.map((cli) => cli.kill()));
  rmSync(dir, { recursive: true, force: true });
});

async function startBroker(db: string): Promise<{ cli: RunningCli; url: string }> {
  const cli = await startBrokerCli(['--persistence', db]);
  running.push(cli);
  return { cli, url: `mqtt://127.0.0.1:${cli.port}` };
}

/** `mqiot up` on port 0 (MQTT and HTTP); its MQTT URL comes from the "running" log line. */
async function startUpLogged(
  dataDir: string,
  env: Record<string, string> = {},
): Promise<{ cli: RunningCli; url: string }> {
  // lab mode: these clients are plain MQTT clients, not gateways with issued credentials
  const up = await startUp(dataDir, ['--log-level', 'info', '--allow-anonymous'], env);
  running.push(up);
  return { cli: up, url: up.mqttUrl };
}

/** Connects with the message handler attached first: queued messages arrive right after CONNACK. */
function connectCollecting(
  url: string,
  options: IClientOptions,
  onMessage: (topic: string, payload: Buffer) => void,
): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    clients.push(c);
    c.on('message', (topic, payload) => onMessage(topic, payload));
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

const session = (clientId: string): IClientOptions => ({
  clientId,
  protocolVersion: 5,
  clean: false,
  properties: { sessionExpiryInterval: 3600 },
});

test('SIGKILL after PUBACK/PUBCOMP loses nothing: queued QoS 1 and QoS 2 messages and retained survive a restart', async () => {
  const db = join(dir, 'broker.db');
  const first = await startBroker(db);

  // persistent sessions subscribe, then go offline
  for (const [id, filter, qos] of [
    ['crash-sub-1', 'crash/q1/#', 1],
    ['crash-sub-2', 'crash/q2/#', 2],
  ] as const) {
    const sub = await connectClient(first.url, session(id));
    clients.push(sub);
    await sub.subscribeAsync(filter, { qos });
    await sub.endAsync();
  }

  // every publish resolves on its PUBACK (QoS 1) / PUBCOMP (QoS 2)
  const pub = await connectClient(first.url, { clientId: 'crash-pub', protocolVersion: 5 });
  clients.push(pub);
  await Promise.all([
    ...Array.from({ length: N_QOS1 }, (_, i) => pub.publishAsync(`crash/q1/${i % 7}`, `m${i}`, { qos: 1 })),
    ...Array.from({ length: N_QOS2 }, (_, i) => pub.publishAsync(`crash/q2/${i % 5}`, `n${i}`, { qos: 2 })),
    pub.publishAsync('crash/state', 'retained-value', {
      qos: 1,
      retain: true,
      properties: { userProperties: { unit: 'degC' }, contentType: 'text/plain' },
    }),
  ]);
  await pub.endAsync(true);

  first.cli.child.kill('SIGKILL');
  assert.equal(await first.cli.exited, 'SIGKILL');

  const second = await startBroker(db);
  const q1 = new Map<string, number>();
  const q2 = new Map<string, number>();
  const count = (m: Map<string, number>, key: string): void => {
    m.set(key, (m.get(key) ?? 0) + 1);
  };
  const c1 = await connectCollecting(second.url, session('crash-sub-1'), (_t, p) => count(q1, p.toString()));
  const c2 = await connectCollecting(second.url, session('crash-sub-2'), (_t, p) => count(q2, p.toString()));
  await waitFor(
    () => `QoS 1: ${q1.size}/${N_QOS1}, QoS 2: ${q2.size}/${N_QOS2}`,
    () => q1.size === N_QOS1 && q2.size === N_QOS2,
    20_000,
  );
  for (let i = 0; i < N_QOS1; i++) assert.ok(q1.has(`m${i}`), `QoS 1 message m${i} delivered`);
  for (let i = 0; i < N_QOS2; i++) assert.equal(q2.get(`n${i}`), 1, `QoS 2 message n${i} exactly once`);
  await c1.endAsync();
  await c2.endAsync();

  const reader = await connectClient(second.url, { clientId: 'crash-reader', protocolVersion: 5 });
  clients.push(reader);
  const retained = new Promise<mqtt.IPublishPacket>((r) =>
    reader.once('message', (_t, _p, packet) => r(packet)),
  );
  await reader.subscribeAsync('crash/state', { qos: 1 });
  const packet = await retained;
  assert.equal(packet.payload.toString(), 'retained-value');
  assert.equal(packet.retain, true);
  assert.deepEqual({ ...packet.properties?.userProperties }, { unit: 'degC' });
  assert.equal(packet.properties?.contentType, 'text/plain');
  await reader.endAsync();

  await second.cli.stop();
});

test('mqiot up keeps broker sessions in <data-dir>/broker.db by default: queued messages survive SIGKILL', async () => {
  const dataDir = join(dir, 'up');
  const first = await startUpLogged(dataDir);
  assert.ok(existsSync(join(dataDir, 'broker.db')), 'broker.db created in the data dir');
  const sub = await connectClient(first.url, session('up-sub'));
  clients.push(sub);
  await sub.subscribeAsync('up/crash/#', { qos: 1 });
  await sub.endAsync();
  const pub = await connectClient(first.url, { clientId: 'up-pub', protocolVersion: 5 });
  clients.push(pub);
  const n = 50;
  await Promise.all(
    Array.from({ length: n }, (_, i) => pub.publishAsync(`up/crash/${i}`, `u${i}`, { qos: 1 })),
  );
  await pub.endAsync(true);
  first.cli.child.kill('SIGKILL');
  await first.cli.exited;

  const second = await startUpLogged(dataDir);
  const got = new Set<string>();
  const back = await connectCollecting(second.url, session('up-sub'), (_t, p) => got.add(p.toString()));
  await waitFor(
    () => `${got.size}/${n}`,
    () => got.size === n,
    20_000,
  );
  for (let i = 0; i < n; i++) assert.ok(got.has(`u${i}`), `u${i} delivered`);
  await back.endAsync();
  await second.cli.stop();
});

test('mqiot up with MQIOT_BROKER_PERSISTENCE=off keeps broker sessions in memory (no broker.db)', async () => {
  const dataDir = join(dir, 'up-off');
  const up = await startUpLogged(dataDir, { MQIOT_BROKER_PERSISTENCE: 'off' });
  const store = logLines(up.cli.stdout()).find((l) => l.msg === 'broker store');
  assert.equal(store?.persistence, 'memory');
  assert.equal(existsSync(join(dataDir, 'broker.db')), false);
  assert.equal(await up.cli.stop(), 0);
});
