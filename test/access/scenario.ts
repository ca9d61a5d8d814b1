// The failover scenario of issue 6: a QoS 1 and a QoS 2 publisher through the module at a steady
// rate, subscribers directly on both brokers, a fault on Broker1, recovery and failback.
import mqtt, { type MqttClient } from 'mqtt';
import { AccessProxy, parseAccessOptions } from '../../src/access/index.ts';
import { startProcessBroker, type ProcessBroker } from '../support/process-broker.ts';
import { Relay } from '../support/relay.ts';
import { waitFor } from '../support/wait.ts';

export type Fault = 'kill' | 'stop' | 'silent';

export interface ScenarioOptions {
  broker1: 'mosquitto' | 'mqiot';
  broker2: 'mosquitto' | 'mqiot';
  fault: Fault;
  protocolVersion: 4 | 5;
  intervalMs?: number;
  keepAlive?: number;
  failbackHoldMs?: number;
}

export interface PublisherResult {
  qos: 1 | 2;
  sent: number;
  acked: number;
  lost: number;
  duplicated: number;
  longestGapMs: number;
}

export interface ScenarioResult {
  publishers: PublisherResult[];
  failovers: number;
  failbacks: number;
  causes: string[];
  /** Broker1's fault → first message acknowledged through Broker2 (ms). */
  failoverMs: number;
  activeAtEnd: string;
}

const TOPIC = 'access-test/load';
const dbg = (...a: unknown[]) => {
  if (process.env.ACCESS_DEBUG) console.error(...a);
};

// Subscribers take QoS 1: a QoS 2 subscriber (MQTT.js) hands a message over only at the broker's
// PUBREL, so a broker killed between its PUBCOMP to the module and its PUBREL to the subscriber
// would lose a message it had acknowledged — the broker's own window, not the module's.
interface Subscriber {
  client: MqttClient;
  /** Connected and its subscription acknowledged (SUBACK). */
  subscribed: boolean;
}

function subscriber(port: number, seen: Map<string, number[]>, times: Map<string, number>): Subscriber {
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 100, connectTimeout: 2000 });
  const s: Subscriber = { client: c, subscribed: false };
  c.on('connect', () => c.subscribe(`${TOPIC}/#`, { qos: 1 }, (err) => (s.subscribed = !err)));
  c.on('close', () => (s.subscribed = false));
  c.on('message', (_topic, payload) => {
    const key = payload.toString();
    seen.set(key, [...(seen.get(key) ?? []), port]);
    if (!times.has(key)) times.set(key, Date.now());
  });
  c.on('error', () => {});
  return s;
}

export async function runScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const interval = o.intervalMs ?? 20;
  const keepAlive = o.keepAlive ?? 2;
  const hold = o.failbackHoldMs ?? 1000;
  const b1: ProcessBroker = await startProcessBroker(o.broker1);
  const b2: ProcessBroker = await startProcessBroker(o.broker2);
  const relay = new Relay(b1.port);
  await relay.start();
  const proxy = new AccessProxy(
    parseAccessOptions({
      listenHost: '127.0.0.1',
      listenPort: 0,
      broker1: `mqtt://127.0.0.1:${relay.port}`,
      broker2: `mqtt://127.0.0.1:${b2.port}`,
      upstreamKeepAlive: keepAlive,
      failbackHoldMs: hold,
      backoffBaseMs: 50,
      backoffCapMs: 500,
      connectTimeoutMs: 2000,
    }),
  );
  const { port } = await proxy.listen();
  const seen = new Map<string, number[]>();
  const firstSeen = new Map<string, number>();
  const subs = [subscriber(b1.port, seen, firstSeen), subscriber(b2.port, seen, firstSeen)];
  await waitFor('subscribers', () => subs.every((s) => s.subscribed), 10_000);

  const acks = new Map<string, number>();
  let faultAt = 0;
  let firstAfterFault = 0;
  const pubs = await Promise.all(
    ([1, 2] as const).map((qos) =>
      mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
        protocolVersion: o.protocolVersion,
        clientId: `access-test-q${qos}`,
        reconnectPeriod: 0,
        keepalive: 30,
      }),
    ),
  );
  let running = true;
  const sent = [0, 0];
  const timers = pubs.map((client, i) => {
    const qos = (i + 1) as 1 | 2;
    return setInterval(() => {
      if (!running) return;
      const key = `q${qos}-${++sent[i]!}`;
      client.publish(`${TOPIC}/q${qos}`, key, { qos }, (err) => {
        if (err) return;
        const now = Date.now();
        acks.set(key, now);
        if (faultAt > 0 && firstAfterFault === 0 && proxy.counters.failovers > 0) firstAfterFault = now;
      });
    }, interval);
  });

  // Traffic flows through Broker1 for a while, then through Broker2 after the failover, then through
  // Broker1 again after the failback: each phase lasts until enough acknowledgements came back.
  const moreAcks = async (what: string, n: number) => {
    const target = acks.size + n;
    await waitFor(what, () => acks.size >= target, 20_000);
  };
  await moreAcks('traffic through Broker1', 40);
  faultAt = Date.now();
  if (o.fault === 'kill') await b1.stop('SIGKILL');
  else if (o.fault === 'stop') await b1.stop('SIGTERM');
  else relay.freeze();
  dbg('fault', o.fault);
  await waitFor('failover of both publishers', () => proxy.counters.failovers >= 2, (keepAlive + 5) * 1000);
  await moreAcks('traffic through Broker2', 30);
  dbg('failed over', Date.now() - faultAt);
  // Recovery.
  if (o.fault === 'silent') relay.thaw();
  else await b1.start();
  await waitFor('subscriber on Broker1 back', () => subs[0]!.subscribed, 10_000);
  dbg('sub1 back');
  await waitFor('failback of both publishers', () => proxy.counters.failbacks >= 2, hold + 10_000);
  await moreAcks('traffic through Broker1 again', 30);
  dbg('failed back');
  running = false;
  for (const t of timers) clearInterval(t);
  await waitFor(
    'publishers settled',
    () => pubs.every((p) => Object.keys(p.outgoing).length === 0),
    10_000,
  ).catch((err) => {
    dbg(
      pubs.map((p) => Object.keys(p.outgoing)),
      [...proxy.sessions].map((s) => (s as unknown as { toBrokers: unknown }).toBrokers),
    );
    throw err;
  });
  // The last deliveries: every acknowledged message has reached a subscriber. A lost one never does;
  // the wait then ends at its bound and the count below reports it.
  await waitFor(
    'acknowledged messages delivered',
    () => [...acks.keys()].every((k) => seen.has(k)),
    10_000,
  ).catch(() => undefined);

  const publishers: PublisherResult[] = ([1, 2] as const).map((qos, i) => {
    let lost = 0;
    let duplicated = 0;
    let acked = 0;
    const times: number[] = [];
    for (let n = 1; n <= sent[i]!; n++) {
      const key = `q${qos}-${n}`;
      const copies = seen.get(key)?.length ?? 0;
      if (acks.has(key)) {
        acked++;
        if (copies === 0) {
          lost++;
          dbg('lost', key, 'acked at', acks.get(key)! - faultAt, 'ms after the fault');
        }
      }
      if (copies > 1) duplicated += copies - 1;
      const t = firstSeen.get(key);
      if (t !== undefined) times.push(t);
    }
    times.sort((a, b) => a - b);
    let longestGapMs = 0;
    for (let k = 1; k < times.length; k++) longestGapMs = Math.max(longestGapMs, times[k]! - times[k - 1]!);
    return { qos, sent: sent[i]!, acked, lost, duplicated, longestGapMs };
  });
  const counters = proxy.counters;
  const result: ScenarioResult = {
    publishers,
    failovers: counters.failovers,
    failbacks: counters.failbacks,
    causes: [...counters.causes.keys()],
    failoverMs: firstAfterFault - faultAt,
    activeAtEnd: [...proxy.sessions].map((s) => String(s.active)).join(','),
  };
  dbg('teardown');
  for (const p of pubs) await p.endAsync();
  dbg('pubs ended');
  for (const s of subs) await s.client.endAsync(true);
  dbg('subs ended');
  await proxy.close();
  dbg('proxy closed');
  await relay.close();
  dbg('relay closed');
  await b1.dispose();
  await b2.dispose();
  return result;
}

export function report(name: string, r: ScenarioResult): void {
  for (const p of r.publishers) {
    console.log(
      `# ${name} qos${p.qos}: sent ${p.sent}, acked ${p.acked}, lost ${p.lost}, duplicated ${p.duplicated}, longest gap ${p.longestGapMs} ms`,
    );
  }
  console.log(
    `# ${name}: failovers ${r.failovers}, failbacks ${r.failbacks}, causes ${r.causes.join(' ')}, failover→first ack ${r.failoverMs} ms`,
  );
}
