import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { AccessProxy, parseAccessOptions, type AccessOptionsInput } from '../../src/access/index.ts';
import { Mosquitto } from '../support/mosquitto.ts';
import { freePort } from '../support/ports.ts';
import { Relay } from '../support/relay.ts';
import { pingBarrier } from '../support/mqtt.ts';
import { waitFor } from '../support/wait.ts';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

async function proxyFor(broker1: number, broker2: number, extra: AccessOptionsInput = {}) {
  const proxy = new AccessProxy(
    parseAccessOptions({
      listenHost: '127.0.0.1',
      listenPort: 0,
      broker1: `mqtt://127.0.0.1:${broker1}`,
      broker2: `mqtt://127.0.0.1:${broker2}`,
      failbackHoldMs: 500,
      backoffBaseMs: 50,
      backoffCapMs: 300,
      connectTimeoutMs: 2000,
      ...extra,
    }),
  );
  const { port, metricsPort } = await proxy.listen();
  cleanup.push(() => proxy.close());
  return { proxy, port, metricsPort };
}

async function client(port: number, options: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, ...options });
  cleanup.push(() => c.endAsync(true));
  return c;
}

function collect(c: MqttClient): string[] {
  const got: string[] = [];
  c.on('message', (topic, payload) => got.push(`${topic}=${payload.toString()}`));
  return got;
}

/** Waits until a Mosquitto bridge carries `bridged/#` both ways: a probe published on one side arrives on the other. */
async function bridgeUp(port1: number, port2: number): Promise<void> {
  for (const [from, to] of [
    [port1, port2],
    [port2, port1],
  ] as const) {
    const source = await client(from);
    const sink = await client(to);
    let arrived = false;
    sink.on('message', () => (arrived = true));
    await sink.subscribeAsync('bridged/probe', { qos: 0 });
    // Until the bridge has subscribed, a probe is dropped: publish again on every look.
    await waitFor(`bridge ${from} → ${to}`, () => {
      source.publish('bridged/probe', 'probe');
      return arrived;
    });
    await source.endAsync();
    await sink.endAsync();
  }
}

test(
  'a client that connects while Broker1 is down works through Broker2, then fails back; its subscriptions reach Broker1',
  { timeout: 60_000 },
  async () => {
    const b2 = await Mosquitto.start();
    cleanup.push(() => b2.dispose());
    const b1 = new Mosquitto(await freePort());
    cleanup.push(() => b1.dispose());
    const { proxy, port } = await proxyFor(b1.port, b2.port);
    const terminal = await client(port, { protocolVersion: 5, clientId: 'late-terminal' });
    const down = collect(terminal);
    await terminal.subscribeAsync('late/down/#', { qos: 2 }); // Broker1 is down: it gets it when it comes
    const watch2 = await client(b2.port);
    await watch2.subscribeAsync('late/#', { qos: 1 });
    const on2 = collect(watch2);
    await terminal.publishAsync('late/a', 'one', { qos: 1 });
    await waitFor('message on Broker2', () => on2.length === 1, 5000);
    assert.deepEqual(on2, ['late/a=one']);
    await b1.start();
    const watch1 = await client(b1.port);
    await watch1.subscribeAsync('late/#', { qos: 1 });
    const on1 = collect(watch1);
    await waitFor('failback', () => proxy.counters.failbacks === 1, 10_000);
    await terminal.publishAsync('late/a', 'two', { qos: 2 });
    await waitFor('message on Broker1', () => on1.length === 1, 5000);
    assert.deepEqual(on1, ['late/a=two']);
    assert.deepEqual(on2, ['late/a=one']);
    assert.equal(proxy.counters.lastOf('failback')?.cause, 'primary-stable');
    // The subscription made while Broker1 was down was given to it when it came back; QoS 2 down.
    const source1 = await client(b1.port);
    await source1.publishAsync('late/down/x', 'from-b1', { qos: 2 });
    await waitFor('message from Broker1 through the module', () => down.length === 1, 5000);
    assert.deepEqual(down, ['late/down/x=from-b1']);
  },
);

test(
  'bridged brokers: each message is delivered once (dedup), the other copy acknowledged by the module',
  { timeout: 60_000 },
  async () => {
    const b1 = await Mosquitto.start();
    cleanup.push(() => b1.dispose());
    // Broker2 bridges everything both ways with Broker1: every message exists on both brokers.
    const b2 = await Mosquitto.start(undefined, [
      'connection to-b1',
      `address 127.0.0.1:${b1.port}`,
      'topic bridged/# both 1',
      'cleansession true',
    ]);
    cleanup.push(() => b2.dispose());
    await bridgeUp(b1.port, b2.port);
    const { proxy, port } = await proxyFor(b1.port, b2.port);
    const terminal = await client(port, { protocolVersion: 4, clientId: 'dedup-terminal' });
    const got = collect(terminal);
    const granted = await terminal.subscribeAsync('bridged/#', { qos: 1 });
    assert.equal(granted[0]?.qos, 1);
    const source = await client(b1.port);
    for (let i = 0; i < 20; i++)
      await source.publishAsync('bridged/x', `m${i}`, { qos: i % 2 === 0 ? 1 : 0 });
    // Every message comes from both brokers: once 20 copies are dropped as duplicates, all 40 are in.
    await waitFor(
      'both copies of 20 messages',
      () => got.length >= 20 && proxy.counters.duplicatesDropped >= 20,
      5000,
    );
    assert.equal(got.length, 20, 'each message once');
    assert.deepEqual(
      got,
      Array.from({ length: 20 }, (_, i) => `bridged/x=m${i}`),
    );
    assert.ok(proxy.counters.duplicatesDropped >= 20, `dropped ${proxy.counters.duplicatesDropped}`);
    assert.ok(proxy.counters.delivered[0] > 0 || proxy.counters.delivered[1] > 0);
  },
);

test(
  'one broker refuses the CONNECT: the client is accepted and publishes through the other',
  { timeout: 60_000 },
  async () => {
    const b1 = await Mosquitto.start(undefined, ['allow_anonymous false']);
    cleanup.push(() => b1.dispose());
    const b2 = await Mosquitto.start();
    cleanup.push(() => b2.dispose());
    const { proxy, port } = await proxyFor(b1.port, b2.port);
    const watch2 = await client(b2.port);
    await watch2.subscribeAsync('refused/#', { qos: 1 });
    const on2 = collect(watch2);
    const terminal = await client(port, { protocolVersion: 5 });
    await terminal.publishAsync('refused/x', 'via-b2', { qos: 1 });
    await waitFor('message on Broker2', () => on2.length === 1, 5000);
    assert.equal([...proxy.sessions][0]?.active, 1);
  },
);

test(
  'both brokers refuse: the client gets Broker1’s refusal; both down: server unavailable',
  { timeout: 60_000 },
  async () => {
    const b1 = await Mosquitto.start(undefined, ['allow_anonymous false']);
    cleanup.push(() => b1.dispose());
    const b2 = await Mosquitto.start(undefined, ['allow_anonymous false']);
    cleanup.push(() => b2.dispose());
    const { port } = await proxyFor(b1.port, b2.port);
    await assert.rejects(
      mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, protocolVersion: 5 }),
      /Not authorized/i,
    );
    const { proxy, port: port2 } = await proxyFor(await freePort(), await freePort());
    await assert.rejects(
      mqtt.connectAsync(`mqtt://127.0.0.1:${port2}`, { reconnectPeriod: 0, protocolVersion: 4 }),
      /unavailable/i,
    );
    assert.equal(proxy.counters.clientsRefused, 1);
  },
);

test(
  '$SYS/access/# is answered by the module (active broker, changes with cause); /metrics shows the failover',
  { timeout: 60_000 },
  async () => {
    const b1 = await Mosquitto.start();
    cleanup.push(() => b1.dispose());
    const b2 = await Mosquitto.start();
    cleanup.push(() => b2.dispose());
    const { metricsPort, port } = await proxyFor(b1.port, b2.port, {
      metricsPort: 0,
      metricsHost: '127.0.0.1',
    });
    const terminal = await client(port);
    const got = collect(terminal);
    await terminal.subscribeAsync('$SYS/access/#', { qos: 0 });
    await waitFor('active broker', () => got.includes('$SYS/access/active=broker1'), 5000);
    await b1.stop('SIGKILL');
    await waitFor('failover on $SYS', () => got.includes('$SYS/access/active=broker2'), 5000);
    const event = got.filter((m) => m.startsWith('$SYS/access/event=')).at(-1)!;
    assert.match(event, /"kind":"failover".*"cause":"socket-closed"/);
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(text, /^mqiot_access_failovers_total 1$/m);
    assert.match(text, /^mqiot_access_sessions_active\{upstream="broker2"\} 1$/m);
    assert.match(text, /^mqiot_access_transitions_by_cause_total\{cause="socket-closed"\} 1$/m);
  },
);

test(
  'PINGREQ is answered through the module; packets sent before the CONNACK are handled after it',
  { timeout: 60_000 },
  async () => {
    const b1 = await Mosquitto.start();
    cleanup.push(() => b1.dispose());
    const b2 = await Mosquitto.start();
    cleanup.push(() => b2.dispose());
    const { port } = await proxyFor(b1.port, b2.port);
    const terminal = await client(port, { keepalive: 1 });
    let pings = 0;
    terminal.on('packetreceive', (p) => {
      if (p.cmd === 'pingresp') pings++;
    });
    await waitFor('a PINGRESP through the module (keep-alive 1 s)', () => pings >= 1, 5000);
    assert.equal(terminal.connected, true);
    // Raw client: CONNECT, SUBSCRIBE and PUBLISH in one write, before any CONNACK.
    const net = await import('node:net');
    const mqttPacket = (await import('mqtt-packet')).default;
    const raw = net.connect({ host: '127.0.0.1', port });
    cleanup.push(async () => raw.destroy());
    const types: string[] = [];
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p) => types.push(p.cmd));
    raw.on('data', (d: Buffer) => parser.parse(d));
    raw.write(
      Buffer.concat([
        mqttPacket.generate({
          cmd: 'connect',
          clientId: 'eager',
          protocolVersion: 4,
          clean: true,
          keepalive: 0,
        }),
        mqttPacket.generate({
          cmd: 'subscribe',
          messageId: 1,
          subscriptions: [{ topic: 'eager/#', qos: 1 }],
        }),
        mqttPacket.generate({
          cmd: 'publish',
          topic: 'eager/x',
          payload: Buffer.from('e'),
          qos: 1,
          messageId: 2,
          dup: false,
          retain: false,
        }),
      ]),
    );
    await waitFor(
      'CONNACK, SUBACK, PUBACK, PUBLISH',
      () => types.includes('puback') && types.includes('publish'),
      5000,
    );
    assert.equal(types[0], 'connack', 'nothing is answered before the CONNACK');
    // A server may send matching PUBLISHes before the SUBACK (MQTT 3.1.1 §3.8.4); with two brokers
    // behind the module, one broker's copy can overtake the merged SUBACK.
    assert.ok(types.includes('suback'), types.join());
  },
);

test(
  'both brokers gone: QoS 1 messages wait unacknowledged, the client is paused at maxInflight, all complete after recovery',
  { timeout: 60_000 },
  async () => {
    const b1 = await Mosquitto.start();
    cleanup.push(() => b1.dispose());
    const b2 = await Mosquitto.start();
    cleanup.push(() => b2.dispose());
    const r1 = new Relay(b1.port);
    const r2 = new Relay(b2.port);
    await r1.start();
    await r2.start();
    cleanup.push(
      () => r1.close(),
      () => r2.close(),
    );
    const { proxy, port } = await proxyFor(r1.port, r2.port, { maxInflight: 3, upstreamKeepAlive: 1 });
    const watch = await client(b2.port);
    await watch.subscribeAsync('wait/#', { qos: 1 });
    const got = collect(watch);
    const terminal = await client(port, { keepalive: 30 });
    r1.freeze();
    r2.freeze();
    await waitFor('both links lost', () => proxy.counters.outages === 1, 5000);
    let acked = 0;
    const sends = Array.from({ length: 10 }, (_, i) =>
      terminal.publishAsync('wait/x', `w${i}`, { qos: 1 }).then(() => acked++),
    );
    // Barrier: the module has read up to maxInflight; only a broker could acknowledge, and both are
    // silent, so nothing is acknowledged however long one waits.
    const session = [...proxy.sessions][0] as unknown as { toBrokers: { inflight: number } };
    await waitFor('maxInflight publishes read', () => session.toBrokers.inflight === 3, 5000);
    assert.equal(acked, 0, 'nothing acknowledged while no broker took it');
    await pingBarrier(watch);
    assert.deepEqual(got, [], 'nothing reached Broker2 either');
    assert.equal(session.toBrokers.inflight, 3, 'the module stopped reading at maxInflight');
    r2.thaw();
    await Promise.all(sends);
    await waitFor('all 10 on Broker2', () => got.length === 10, 5000);
    assert.deepEqual(
      got,
      Array.from({ length: 10 }, (_, i) => `wait/x=w${i}`),
    );
  },
);

test(
  'MQTT 5: properties pass through untouched; a topic alias (we grant none) ends the connection with 0x94 [MQTT-3.3.2-9]',
  { timeout: 60_000 },
  async () => {
    const b1 = await Mosquitto.start();
    cleanup.push(() => b1.dispose());
    const b2 = await Mosquitto.start();
    cleanup.push(() => b2.dispose());
    const { port } = await proxyFor(b1.port, b2.port);
    const watch = await client(b1.port, { protocolVersion: 5 });
    await watch.subscribeAsync('props/#', { qos: 1 });
    const seen: unknown[] = [];
    watch.on('message', (_t, _p, packet) => seen.push({ ...packet.properties?.userProperties }));
    const terminal = await client(port, { protocolVersion: 5 });
    await terminal.publishAsync('props/x', 'p', {
      qos: 1,
      properties: { userProperties: { site: 'north' } },
    });
    await waitFor('message with properties', () => seen.length === 1, 5000);
    assert.deepEqual(seen, [{ site: 'north' }]);

    const net = await import('node:net');
    const mqttPacket = (await import('mqtt-packet')).default;
    const raw = net.connect({ host: '127.0.0.1', port });
    cleanup.push(async () => raw.destroy());
    const got: { cmd: string; reasonCode?: number }[] = [];
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    parser.on('packet', (p) => got.push(p));
    raw.on('data', (d: Buffer) => parser.parse(d));
    const closed = new Promise((r) => raw.once('close', r));
    const v5 = { protocolVersion: 5 };
    raw.write(
      mqttPacket.generate(
        { cmd: 'connect', clientId: 'alias', protocolVersion: 5, clean: true, keepalive: 0 },
        v5,
      ),
    );
    await waitFor('CONNACK', () => got.length === 1, 5000);
    raw.write(
      mqttPacket.generate(
        {
          cmd: 'publish',
          topic: 'props/a',
          payload: Buffer.from('x'),
          qos: 0,
          dup: false,
          retain: false,
          properties: { topicAlias: 1 },
        },
        v5,
      ),
    );
    await closed;
    assert.deepEqual(
      got.map((p) => [p.cmd, p.reasonCode]),
      [
        ['connack', 0],
        ['disconnect', 0x94],
      ],
    );
  },
);
