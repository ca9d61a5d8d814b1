// QoS 2 exactly once across a failover, with real brokers: the link to Broker1 is lost in the middle
// of a QoS 2 flow — either Broker1 has the PUBREL (and has delivered the message) but its PUBCOMP
// never reaches the module, or its PUBREC has just reached the module (mqiot's broker has delivered
// the message then, Mosquitto has not). The module fails over to Broker2 and must not send the
// message there; when Broker1's link returns with the session, PUBREL goes (again) and Broker1's
// PUBCOMP completes the client's flow. Subscribers directly on both brokers count the deliveries:
// exactly one. Broker1 is Debian's Mosquitto or `mqiot broker`, each as its own process.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { AccessProxy, parseAccessOptions, type ClientSession } from '../../src/access/index.ts';
import { Mosquitto } from '../support/mosquitto.ts';
import { startProcessBroker, type BrokerKind } from '../support/process-broker.ts';
import { pingBarrier } from '../support/mqtt.ts';
import { waitFor } from '../support/wait.ts';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

/** Where the relay loses the link: after the module's PUBREL went through, or after Broker1's PUBREC. */
type CutAfter = 'pubrel' | 'pubrec';

/**
 * A TCP relay in front of Broker1. Once armed: in `pubrel` mode it stops passing anything back from
 * the broker after the module's PUBREL went through (Broker1's PUBCOMP is lost); in `pubrec` mode it
 * cuts the connection right after passing Broker1's PUBREC on (the client's PUBREL cannot follow).
 * New connections relay normally.
 */
class FlowCutter {
  private readonly server: net.Server;
  private readonly open = new Set<net.Socket>();
  armed = false;
  /** The armed point was reached. */
  reached = false;
  port = 0;

  constructor(targetPort: number, mode: CutAfter) {
    this.server = net.createServer((client) => {
      const broker = net.connect({ host: '127.0.0.1', port: targetPort });
      let swallowing = false;
      for (const s of [client, broker]) {
        this.open.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          this.open.delete(s);
          client.destroy();
          broker.destroy();
        });
      }
      // Fixed headers: PUBREL 0x62, PUBREC 0x50. Our payloads never contain these bytes, so a look at
      // the chunk will do.
      client.on('data', (d: Buffer) => {
        if (this.armed && mode === 'pubrel' && d.includes(0x62)) {
          swallowing = true;
          this.armed = false;
          this.reached = true;
        }
        broker.write(d);
      });
      broker.on('data', (d: Buffer) => {
        if (swallowing) return;
        if (this.armed && mode === 'pubrec' && d.includes(0x50)) {
          this.armed = false;
          this.reached = true;
          client.end(d, () => this.cut());
          return;
        }
        client.write(d);
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Drops every relayed connection (the link is lost); new ones relay normally. */
  cut(): void {
    for (const s of this.open) s.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

async function watcher(url: string, name: string, seen: string[]): Promise<MqttClient> {
  const w = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  cleanup.push(() => w.endAsync(true));
  w.on('message', (_t, p) => seen.push(`${name}:${p.toString()}`));
  await w.subscribeAsync('q2/#', { qos: 2 });
  return w;
}

const cases: [BrokerKind, CutAfter][] = [
  ['mosquitto', 'pubrel'],
  ['mosquitto', 'pubrec'],
  ['mqiot', 'pubrel'],
  ['mqiot', 'pubrec'],
];

for (const [kind, cutAfter] of cases) {
  test(
    `QoS 2, Broker1 ${kind}: the link lost after the ${cutAfter.toUpperCase()} — delivered once, completed on Broker1`,
    { timeout: 30_000 },
    async () => {
      const b1 = await startProcessBroker(kind);
      const b2 = await Mosquitto.start();
      cleanup.push(
        () => b1.dispose(),
        () => b2.dispose(),
      );
      const relay = new FlowCutter(b1.port, cutAfter);
      await relay.start();
      cleanup.push(() => relay.close());
      const seen: string[] = [];
      const w1 = await watcher(`mqtt://127.0.0.1:${b1.port}`, 'broker1', seen);
      const w2 = await watcher(b2.url, 'broker2', seen);
      const proxy = new AccessProxy(
        parseAccessOptions({
          listenHost: '127.0.0.1',
          listenPort: 0,
          broker1: `mqtt://127.0.0.1:${relay.port}`,
          broker2: b2.url,
          failbackHoldMs: 60_000,
          backoffBaseMs: 50,
          backoffCapMs: 300,
        }),
      );
      const { port } = await proxy.listen();
      cleanup.push(() => proxy.close());
      // A session the brokers keep (clean start off, expiry 5 min): Broker1 remembers the PUBREL state.
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
        clientId: 'q2-terminal',
        protocolVersion: 5,
        clean: false,
        properties: { sessionExpiryInterval: 300 },
        reconnectPeriod: 0,
      });
      cleanup.push(() => c.endAsync(true));
      const session = (): ClientSession | undefined =>
        [...proxy.sessions].find((s) => s.clientId === 'q2-terminal');
      await waitFor('both links up', () => session()?.links.every((l) => l.isUp), 5000);

      relay.armed = true;
      let completed = false;
      const publishing = c.publishAsync('q2/x', 'once', { qos: 2 }).then(() => void (completed = true));
      if (cutAfter === 'pubrel') {
        await waitFor('Broker1 took the PUBREL and delivered', () => relay.reached && seen.length > 0, 5000);
        relay.cut(); // mid-flow: Broker1's PUBCOMP is lost with the link
      } else await waitFor('the link cut after the PUBREC', () => relay.reached, 5000);
      await waitFor('failover to Broker2', () => session()?.active === 1, 5000);
      await waitFor('Broker1 link back (session present)', () => session()?.links[0].isUp, 10_000);
      await publishing;
      assert.ok(completed, 'the client got its PUBCOMP');
      // Barrier: the module sent nothing to Broker2 for this message; a copy sent there before the PUBCOMP
      // would have reached w2 before w2's ping answer.
      await pingBarrier(w1, w2);
      assert.deepEqual(seen, ['broker1:once']);
      assert.equal(proxy.counters.resent, 0);
    },
  );
}
