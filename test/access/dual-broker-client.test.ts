import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import mqtt from 'mqtt';
import { DualBrokerClient } from '../../src/access/index.ts';
import { Mosquitto } from '../support/mosquitto.ts';
import { Relay } from '../support/relay.ts';
import { waitFor } from '../support/wait.ts';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

/** A client on one broker counting what it sees on `dual/#`; `subscribed` once its SUBACK is in. */
async function watcher(port: number, seen: Map<string, number>): Promise<{ subscribed: boolean }> {
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 100 });
  const w = { subscribed: false };
  c.on('connect', () => c.subscribe('dual/#', { qos: 1 }, (err) => (w.subscribed = !err)));
  c.on('close', () => (w.subscribed = false));
  c.on('message', (_t, p) => seen.set(p.toString(), (seen.get(p.toString()) ?? 0) + 1));
  c.on('error', () => {});
  cleanup.push(() => c.endAsync(true));
  await waitFor('watcher subscribed', () => w.subscribed, 5000);
  return w;
}

test(
  'DualBrokerClient: QoS 1/2 publishing survives Broker1 SIGKILL with nothing acknowledged lost, then fails back',
  { timeout: 60_000 },
  async () => {
    const b1 = await Mosquitto.start();
    const b2 = await Mosquitto.start();
    cleanup.push(
      () => b1.dispose(),
      () => b2.dispose(),
    );
    const seen = new Map<string, number>();
    const w1 = await watcher(b1.port, seen);
    await watcher(b2.port, seen);
    const dual = await DualBrokerClient.connectAsync({
      broker1: `mqtt://127.0.0.1:${b1.port}`,
      broker2: `mqtt://127.0.0.1:${b2.port}`,
      mqtt: { protocolVersion: 5, keepalive: 5 },
      failbackHoldMs: 800,
      backoffBaseMs: 50,
      backoffCapMs: 300,
    });
    cleanup.push(() => dual.end(true));
    await waitFor('broker1 active', () => dual.active === 'broker1', 5000);
    // Events name the broker (and carry its URL), not a position.
    const events: string[] = [];
    dual.on('broker-down', (b, cause) => events.push(`down ${b.name} ${b.url} ${cause}`));
    dual.on('broker-up', (b) => events.push(`up ${b.name}`));
    dual.on('active', (b, t) => events.push(`active ${b?.name} ${t.kind}`));
    const acked: string[] = [];
    let n = 0;
    let running = true;
    const pending: Promise<void>[] = [];
    const timer = setInterval(() => {
      if (!running) return;
      const key = `m${++n}`;
      const qos = n % 2 === 0 ? 2 : 1;
      pending.push(dual.publish('dual/load', key, { qos }).then(() => void acked.push(key)));
    }, 15);
    // Each phase (Broker1, Broker2 after the failover, Broker1 after the failback) lasts until enough
    // publishes were acknowledged in it.
    const moreAcks = (what: string, k: number) => {
      const target = acked.length + k;
      return waitFor(what, () => acked.length >= target, 10_000);
    };
    await moreAcks('traffic through Broker1', 30);
    await b1.stop('SIGKILL');
    await waitFor('failover', () => dual.active === 'broker2', 5000);
    await moreAcks('traffic through Broker2', 30);
    await b1.start();
    await waitFor('watcher on Broker1 back', () => w1.subscribed, 5000);
    await waitFor('failback', () => dual.active === 'broker1', 10_000);
    await moreAcks('traffic through Broker1 again', 20);
    running = false;
    clearInterval(timer);
    await Promise.all(pending);
    // Every acknowledged message reaches a watcher; a lost one never does, and the wait then ends at
    // its bound so that the assertion below names it.
    await waitFor('acknowledged messages seen', () => acked.every((k) => seen.has(k)), 10_000).catch(
      () => undefined,
    );
    const lost = acked.filter((k) => !seen.has(k));
    const duplicated = [...seen.values()].reduce((s, c) => s + c - 1, 0);
    console.log(
      `# DualBrokerClient kill: sent ${n}, acked ${acked.length}, lost ${lost.length}, duplicated ${duplicated}`,
    );
    assert.equal(acked.length, n);
    assert.deepEqual(lost, []);
    assert.equal(dual.counters.failovers, 1, JSON.stringify(dual.counters.recent));
    // A killed peer shows as a closed socket or, when a write was on its way, a reset: either names it.
    assert.match(
      events[0] ?? '',
      new RegExp(`^down broker1 mqtt://127\\.0\\.0\\.1:${b1.port} socket-(closed|error)$`),
    );
    assert.equal(events[1], 'active broker2 failover');
    assert.ok(events.includes('up broker1') && events.at(-1) === 'active broker1 failback', events.join());
    assert.equal(dual.counters.failbacks, 1);
    assert.ok(dual.counters.published[1] > 0 && dual.counters.published[0] > 0);
  },
);

test(
  'DualBrokerClient: subscriptions on both brokers, a message published on both is delivered once',
  { timeout: 60_000 },
  async () => {
    const b1 = await Mosquitto.start();
    const b2 = await Mosquitto.start();
    cleanup.push(
      () => b1.dispose(),
      () => b2.dispose(),
    );
    const dual = await DualBrokerClient.connectAsync({
      broker1: `mqtt://127.0.0.1:${b1.port}`,
      broker2: `mqtt://127.0.0.1:${b2.port}`,
    });
    cleanup.push(() => dual.end(true));
    const granted = await dual.subscribe('dual/in/#', { qos: 1 });
    assert.deepEqual(granted, [{ topic: 'dual/in/#', qos: 1 }]);
    const got: string[] = [];
    const sources = new Set<string>();
    dual.on('message', (topic, payload, _p, source) => {
      got.push(`${topic}=${payload}`);
      sources.add(source);
    });
    const p1 = await mqtt.connectAsync(`mqtt://127.0.0.1:${b1.port}`);
    const p2 = await mqtt.connectAsync(`mqtt://127.0.0.1:${b2.port}`);
    cleanup.push(
      () => p1.endAsync(true),
      () => p2.endAsync(true),
    );
    await p1.publishAsync('dual/in/a', 'same', { qos: 1 });
    await p2.publishAsync('dual/in/a', 'same', { qos: 1 });
    await p2.publishAsync('dual/in/a', 'only2', { qos: 1 });
    // Three copies in all: two delivered, one dropped as a duplicate.
    await waitFor('all three copies', () => got.length >= 2 && dual.counters.duplicatesDropped >= 1, 5000);
    assert.deepEqual(got.sort(), ['dual/in/a=only2', 'dual/in/a=same']);
    assert.ok(sources.has('broker2'));
    assert.equal(dual.counters.duplicatesDropped, 1);
  },
);

test(
  'DualBrokerClient: Broker1 gone silent (keep-alive 1 s): failover, every publish acknowledged, failback',
  { timeout: 60_000 },
  async () => {
    const b1 = await Mosquitto.start();
    const b2 = await Mosquitto.start();
    cleanup.push(
      () => b1.dispose(),
      () => b2.dispose(),
    );
    const relay = new Relay(b1.port);
    await relay.start();
    cleanup.push(() => relay.close());
    const dual = await DualBrokerClient.connectAsync({
      broker1: `mqtt://127.0.0.1:${relay.port}`,
      broker2: `mqtt://127.0.0.1:${b2.port}`,
      mqtt: { keepalive: 1 },
      failbackHoldMs: 500,
      backoffBaseMs: 50,
      backoffCapMs: 300,
    });
    cleanup.push(() => dual.end(true));
    await waitFor('broker1 active', () => dual.active === 'broker1', 5000);
    let n = 0;
    let acked = 0;
    const sends: Promise<void>[] = [];
    const timer = setInterval(
      () => sends.push(dual.publish('silent/x', `m${++n}`, { qos: 1 }).then(() => void acked++)),
      20,
    );
    await waitFor('traffic through Broker1', () => acked >= 10, 10_000);
    const frozenAt = Date.now();
    relay.freeze();
    await waitFor('failover', () => dual.active === 'broker2', 10_000);
    const failoverMs = Date.now() - frozenAt;
    relay.thaw();
    await waitFor('failback', () => dual.active === 'broker1', 10_000);
    clearInterval(timer);
    await Promise.all(sends);
    console.log(`# DualBrokerClient silent: failover after ${failoverMs} ms, ${n} publishes acknowledged`);
    assert.ok(failoverMs < 3000, `${failoverMs} ms`);
    assert.equal(dual.counters.lastOf('failover')?.cause, 'keepalive-timeout');
  },
);
