// The client's will through the access module, with two real Mosquittos: it is placed on both brokers
// (the client's CONNECT goes to both) and published once, by the broker that is active when the client
// is lost; a normal DISCONNECT publishes none. Also: a CONNECT asking for enhanced authentication is
// refused with 0x8C (AUTH is not relayed yet).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { AccessProxy, parseAccessOptions, type ClientSession } from '../../src/access/index.ts';
import { Mosquitto } from '../support/mosquitto.ts';
import { pingBarrier } from '../support/mqtt.ts';
import { waitFor } from '../support/wait.ts';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

interface Site {
  b: [Mosquitto, Mosquitto];
  proxy: AccessProxy;
  port: number;
  /** Wills seen directly on each broker, as `broker1:payload`. */
  wills: string[];
  watchers: [MqttClient, MqttClient];
}

async function site(failbackHoldMs = 500): Promise<Site> {
  const b: [Mosquitto, Mosquitto] = [await Mosquitto.start(), await Mosquitto.start()];
  cleanup.push(
    () => b[0].dispose(),
    () => b[1].dispose(),
  );
  const wills: string[] = [];
  const watchers = (await Promise.all(
    b.map(async (broker, i) => {
      const w = mqtt.connect(broker.url, { reconnectPeriod: 100 });
      w.on('connect', () => w.subscribe('will/#', { qos: 1 }));
      w.on('message', (_t, p) => wills.push(`broker${i + 1}:${p.toString()}`));
      w.on('error', () => {});
      cleanup.push(() => w.endAsync(true));
      await waitFor('watcher subscribed', () => w.connected, 5000);
      await w.subscribeAsync('will/#', { qos: 1 });
      return w;
    }),
  )) as [MqttClient, MqttClient];
  const proxy = new AccessProxy(
    parseAccessOptions({
      listenHost: '127.0.0.1',
      listenPort: 0,
      broker1: b[0].url,
      broker2: b[1].url,
      failbackHoldMs,
      backoffBaseMs: 50,
      backoffCapMs: 300,
    }),
  );
  const { port } = await proxy.listen();
  cleanup.push(() => proxy.close());
  return { b, proxy, port, wills, watchers };
}

async function terminal(s: Site, clientId: string, protocolVersion: 4 | 5): Promise<MqttClient> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${s.port}`, {
    clientId,
    protocolVersion,
    reconnectPeriod: 0,
    will: { topic: `will/${clientId}`, payload: Buffer.from(`${clientId} gone`), qos: 1, retain: false },
  });
  cleanup.push(() => c.endAsync(true));
  await waitFor('both links up', () => sessionOf(s, clientId)?.links.every((l) => l.isUp), 5000);
  return c;
}

function sessionOf(s: Site, clientId: string): ClientSession | undefined {
  return [...s.proxy.sessions].find((x) => x.clientId === clientId);
}

/**
 * Barrier before asserting that no second will comes: a probe connects to each running broker with
 * the terminal's client id. The broker must be done with the module's old connection before it
 * accepts the probe — had it not read the normal DISCONNECT, the takeover would publish the will
 * [MQTT-3.1.4-3], so the barrier cannot hide a second will. The watchers' ping round trip then
 * proves that a will published by then has arrived.
 */
async function settled(s: Site, clientId: string): Promise<void> {
  await waitFor('session closed in the module', () => sessionOf(s, clientId) === undefined, 5000);
  const running = s.b.map((b, i) => [b, s.watchers[i]!] as const).filter(([b]) => b.running);
  for (const [b] of running) {
    const probe = await mqtt.connectAsync(b.url, { clientId, reconnectPeriod: 0 });
    await probe.endAsync();
  }
  for (const [, w] of running) await waitFor('watcher connected', () => w.connected, 5000);
  await pingBarrier(...running.map(([, w]) => w));
}

for (const protocolVersion of [5, 4] as const) {
  test(`MQTT ${protocolVersion === 5 ? '5' : '3.1.1'}: a lost client's will is published once, by the active broker`, async () => {
    const s = await site();
    const id = `will-lost-v${protocolVersion}`;
    const c = await terminal(s, id, protocolVersion);
    c.stream.destroy(); // the client is gone without DISCONNECT
    await waitFor('the will', () => s.wills.length > 0, 5000);
    await settled(s, id);
    assert.deepEqual(s.wills, [`broker1:${id} gone`]);
  });
}

test('after a failover the will is on both brokers and published once, by the broker then active', async () => {
  // A long failback hold: Broker1 comes back (and holds the will again) while Broker2 stays active.
  const s = await site(60_000);
  const id = 'will-after-failover';
  await terminal(s, id, 5);
  await s.b[0].stop('SIGKILL');
  await waitFor('failover to Broker2', () => sessionOf(s, id)?.active === 1, 5000);
  await s.b[0].start();
  await waitFor('Broker1 link back', () => sessionOf(s, id)?.links[0].isUp, 5000);
  // The watcher on Broker1 re-subscribes on reconnect; its ping answer comes after its SUBACK.
  await waitFor('Broker1 watcher back', () => s.watchers[0].connected, 5000);
  await pingBarrier(s.watchers[0]);
  assert.equal(sessionOf(s, id)?.active, 1);
  sessionOf(s, id)!['client'].end(false); // the module loses the client
  await waitFor('the will', () => s.wills.length > 0, 5000);
  await settled(s, id);
  assert.deepEqual(s.wills, [`broker2:${id} gone`]);
});

test('DISCONNECT 0x04 publishes the will once; a normal DISCONNECT publishes none', async () => {
  const s = await site();
  const withWill = await terminal(s, 'will-0x04', 5);
  await withWill.endAsync(false, { reasonCode: 0x04 });
  await waitFor('the will', () => s.wills.length > 0, 5000);
  await settled(s, 'will-0x04');
  assert.deepEqual(s.wills, ['broker1:will-0x04 gone']);

  const normal = await terminal(s, 'will-normal', 5);
  await normal.endAsync();
  await settled(s, 'will-normal');
  assert.deepEqual(s.wills, ['broker1:will-0x04 gone']);
});

test('MQTT 5 enhanced authentication is refused at once with 0x8C (AUTH is not relayed)', async () => {
  const s = await site();
  await assert.rejects(
    mqtt.connectAsync(`mqtt://127.0.0.1:${s.port}`, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: Buffer.from('n,,n=user') },
    }),
    (err: Error & { code?: number }) => err.code === 0x8c,
  );
  assert.equal(s.proxy.counters.clientsRefused, 1);
});
