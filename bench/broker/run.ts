// Broker benchmark: the same load against mqiot, Mosquitto and Aedes in one run.
//   node --import tsx bench/broker/run.ts [--quick] [--brokers mqiot,mosquitto,aedes] [--scenarios fan-in,...]
//                                        [--duration SECONDS] [--json FILE]
// Each broker runs in its own process; load comes from separate publisher and subscriber processes
// (load.ts) speaking raw MQTT bytes. See bench/broker/README.md for what each figure means.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BROKER_NAMES, startBroker, type BrokerName, type RunningBroker } from './brokers.ts';
import type { FromChild, Role, ToChild } from './load.ts';

type Load = Role extends infer R ? (R extends { port: number } ? Omit<R, 'port'> : never) : never;

/** Either a closed loop in one process, or open-loop publishers and subscribers in two. */
type Scenario = { id: string; title: string } & (
  | { closed: Extract<Load, { role: 'closed' }>; subs?: never; pubs?: never }
  | { closed?: never; subs: Extract<Load, { role: 'sub' }>; pubs: Extract<Load, { role: 'pub' }> }
);

const PAYLOAD = 64;

const SCENARIOS: Scenario[] = [
  {
    id: 'fan-in',
    title: 'fan-in: 20 publishers -> 1 subscriber, QoS 0, 640 messages in flight',
    closed: {
      role: 'closed',
      publishers: 20,
      subscribers: 1,
      topic: 'bench/in/{i}',
      filter: 'bench/in/#',
      qos: 0,
      payload: PAYLOAD,
      window: 640,
      fanout: 1,
    },
  },
  {
    id: 'fan-out',
    title: 'fan-out: 1 publisher -> 50 subscribers, QoS 0, 32 messages in flight',
    closed: {
      role: 'closed',
      publishers: 1,
      subscribers: 50,
      topic: 'bench/out',
      filter: 'bench/out',
      qos: 0,
      payload: PAYLOAD,
      window: 32,
      fanout: 50,
    },
  },
  ...([0, 1, 2] as const).map((qos): Scenario => ({
    id: `qos${qos}`,
    title: `QoS ${qos}: 10 publisher -> subscriber pairs, 320 messages in flight`,
    closed: {
      role: 'closed',
      publishers: 10,
      subscribers: 10,
      topic: `bench/q${qos}/{i}`,
      filter: `bench/q${qos}/{i}`,
      qos,
      payload: PAYLOAD,
      window: 320,
      fanout: 1,
    },
  })),
  // open loops at fixed rates: the latency tail (p99, p99.9) at a light, a moderate and a heavy load
  ...[
    ['latency', 2000],
    ['latency-5k', 5000],
    ['latency-50k', 50_000],
  ].map(([id, rate]) => ({
    id: id as string,
    title: `${id}: 1 publisher at a fixed ${rate} msg/s -> 1 subscriber, QoS 1`,
    pubs: {
      role: 'pub' as const,
      clients: 1,
      topic: 'bench/lat',
      qos: 1 as const,
      payload: PAYLOAD,
      window: Math.max(1000, (rate as number) / 10),
      rate: rate as number,
    },
    subs: { role: 'sub' as const, clients: 1, filter: 'bench/lat', qos: 1 as const, latency: true },
  })),
];

const LOAD_SCRIPT = fileURLToPath(new URL('./load.ts', import.meta.url));

type Ready = Extract<FromChild, { type: 'ready' }>;

interface LoadProcess {
  child: ChildProcess;
  ready: Promise<Ready>;
  done: Promise<Extract<FromChild, { type: 'done' }>>;
  send(msg: ToChild): void;
}

function startLoad(role: Role): LoadProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', LOAD_SCRIPT, JSON.stringify(role)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let readyResolve!: (m: Ready) => void;
  let doneResolve!: (m: Extract<FromChild, { type: 'done' }>) => void;
  const ready = new Promise<Ready>((r) => (readyResolve = r));
  const done = new Promise<Extract<FromChild, { type: 'done' }>>((r) => (doneResolve = r));
  child.on('message', (m: FromChild) => (m.type === 'ready' ? readyResolve(m) : doneResolve(m)));
  // A generator that dies (its broker crashed or refused it) counts as ready and done with nothing,
  // so the run goes on with the other brokers.
  child.once('exit', () => {
    readyResolve({ type: 'ready', held: 0 });
    doneResolve({ type: 'done', count: 0 });
  });
  return { child, ready, done, send: (msg) => child.connected && child.send(msg) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Row {
  scenario: string;
  broker: BrokerName;
  msgsPerSec: number;
  /** PUBLISH packets the publishers wrote, warm-up included (a sanity check on the deliveries). */
  published?: number;
  cpuPerMillion: number;
  p50?: number;
  p99?: number;
  p999?: number;
  /** The broker process died during the run. */
  crashed?: boolean;
  /** CPU use of the delivering generator process during the window, percent of one core. */
  generatorCpu?: number;
}

interface Prepared {
  broker: RunningBroker;
  /** The process whose count is the deliveries (the closed loop, or the subscribers). */
  subs: LoadProcess;
  pubs?: LoadProcess;
}

/**
 * Starts the load processes for one scenario against every broker at once (subscribers first,
 * then publishers), so process start-up is paid once per scenario, not once per broker.
 */
async function prepare(s: Scenario, brokers: RunningBroker[], persistent: boolean): Promise<Prepared[]> {
  if (s.closed) {
    const loops = brokers.map((b) => startLoad({ ...s.closed, port: b.port, persistent }));
    await Promise.all(loops.map((l) => l.ready));
    return brokers.map((broker, i) => ({ broker, subs: loops[i] }));
  }
  const subs = brokers.map((b) => startLoad({ ...s.subs, port: b.port }));
  await Promise.all(subs.map((l) => l.ready));
  const pubs = brokers.map((b) => startLoad({ ...s.pubs, port: b.port }));
  await Promise.all(pubs.map((l) => l.ready));
  return brokers.map((broker, i) => ({ broker, subs: subs[i], pubs: pubs[i] }));
}

async function measure(s: Scenario, { broker, subs, pubs }: Prepared, seconds: number): Promise<Row> {
  subs.send({ type: 'go' });
  pubs?.send({ type: 'go' });
  // warm-up (JIT, buffers) is not counted
  await sleep(Math.min(1000, seconds * 500));
  subs.send({ type: 'mark' });
  const cpu0 = broker.alive() ? broker.cpuSeconds() : NaN;
  await sleep(seconds * 1000);
  pubs?.send({ type: 'stop' });
  subs.send({ type: 'stop' });
  const cpu1 = broker.alive() ? broker.cpuSeconds() : NaN;
  const [received, sent] = await Promise.all([subs.done, pubs?.done]);
  // let the broker drain what is left before the next run
  await sleep(300);
  const crashed = !broker.alive();
  return {
    scenario: s.id,
    broker: broker.name,
    crashed,
    msgsPerSec: received.count / seconds,
    published: sent?.count,
    cpuPerMillion: received.count > 0 ? (cpu1 - cpu0) / (received.count / 1e6) : NaN,
    generatorCpu: received.cpuSeconds === undefined ? undefined : (received.cpuSeconds / seconds) * 100,
    p50: received.latency?.p50,
    p99: received.latency?.p99,
    p999: received.latency?.p999,
  };
}

/** RSS of the broker at start (before any load), bytes, by broker. */
const startRss = new Map<BrokerName, number>();

/** How the idle connections are spread: load processes and loopback source addresses. */
export interface Spread {
  processes: number;
  sources: number;
}

/**
 * Defaults: a load process per 10 000 connections (one process may not hold more descriptors than
 * its nofile limit, 20 000 on the machine these figures come from) and a source address per 20 000
 * (one address has 28 232 ephemeral ports towards one broker port with Linux's default range).
 */
export function defaultSpread(connections: number): Spread {
  return { processes: Math.ceil(connections / 10_000), sources: Math.ceil(connections / 20_000) };
}

/** The soft limit on open files of a process (its own file descriptors bound its connections). */
function nofileOf(pid: number): number {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  return Number(/Max open files\s+(\d+)/.exec(limits)?.[1] ?? NaN);
}

/** Connections the broker held in the idle measurement, by broker. */
const held = new Map<BrokerName, number>();

/** What the idle measurement gives per broker, bytes per connection. */
export interface IdleMemory {
  /** RSS growth from start to all N connections held, divided by N (fixed costs included). */
  growth: number;
  /**
   * RSS growth from N/2 to N connections held, divided by the connections added: the marginal cost
   * of one more connection, without what the first storm costs once (V8's young generation grows
   * to its working size, heap pages, code), which a small N spreads thickly.
   */
  marginal: number;
  /** The growth from start / N again, `--settle` seconds later (absent without it). */
  settled?: number;
}

/**
 * Opens `clients` idle connections to `broker` from load processes spread as `spread` says (client i
 * of process p binds to 127.0.0.(1 + (p + i·processes) mod sources): every address is used evenly).
 */
async function holdIdle(
  broker: RunningBroker,
  clients: number,
  spread: Spread,
): Promise<{ loads: LoadProcess[]; count: number; failed: number }> {
  const loads: LoadProcess[] = [];
  for (let p = 0; p < spread.processes; p++) {
    const share = Math.floor(clients / spread.processes) + (p < clients % spread.processes ? 1 : 0);
    if (share === 0) continue;
    const sources = Array.from(
      { length: spread.sources },
      (_, k) => `127.0.0.${1 + ((p + k) % spread.sources)}`,
    );
    loads.push(startLoad({ role: 'idle', clients: share, port: broker.port, sources }));
  }
  const ready = await Promise.all(loads.map((l) => l.ready));
  const count = ready.reduce((sum, r) => sum + (r.held ?? 0), 0);
  const failed = ready.reduce((sum, r) => sum + (r.failed ?? 0), 0);
  return { loads, count, failed };
}

/**
 * RSS growth of the broker over `clients` idle connections, per connection held: from start (the
 * figure earlier runs reported) and at the margin (N/2 held, then N). The two halves come from
 * separate load processes, each half spread like the whole.
 */
async function memoryPerConnection(
  broker: RunningBroker,
  clients: number,
  spread: Spread,
  settleSeconds: number,
): Promise<IdleMemory> {
  await sleep(300);
  const before = broker.rssBytes();
  startRss.set(broker.name, before);
  const limit = nofileOf(broker.pid);
  if (clients > limit - 20)
    console.log(
      `  ${broker.name}: nofile ${limit} lets it hold at most about ${limit - 20} connections (${clients} asked)`,
    );
  const halfSpread = { processes: Math.max(1, Math.ceil(spread.processes / 2)), sources: spread.sources };
  const first = await holdIdle(broker, Math.floor(clients / 2), halfSpread);
  await sleep(1000);
  const halfRss = broker.rssBytes();
  const second = await holdIdle(broker, clients - Math.floor(clients / 2), halfSpread);
  await sleep(1000);
  const afterRss = broker.rssBytes();
  // V8 shrinks a young generation the storm grew once allocation has been quiet for a while (30-45 s
  // here); the clients never ping, so the broker closes them 90 s after they connected: settle < ~70 s
  if (settleSeconds > 0) await sleep(settleSeconds * 1000);
  const settledRss = settleSeconds > 0 ? broker.rssBytes() : NaN;
  const count = first.count + second.count;
  const failed = first.failed + second.failed;
  held.set(broker.name, count);
  console.log(
    `  ${broker.name}: ${count} idle connections held (${first.loads.length + second.loads.length} load processes, ${spread.sources} source addresses${failed > 0 ? `, ${failed} refused or dropped` : ''})`,
  );
  const loads = [...first.loads, ...second.loads];
  for (const l of loads) l.send({ type: 'stop' });
  await Promise.all(loads.map((l) => l.done));
  await sleep(300);
  return {
    growth: (afterRss - before) / Math.max(1, count),
    marginal: (afterRss - halfRss) / Math.max(1, second.count),
    settled: settleSeconds > 0 ? (settledRss - before) / Math.max(1, count) : undefined,
  };
}

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n)
    ? '-'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function table(
  rows: Row[],
  memory: Map<BrokerName, IdleMemory>,
  brokers: BrokerName[],
  settle: number,
  endRss: Map<BrokerName, number>,
): string {
  const lines: string[] = [];
  const head = [
    'scenario',
    'broker',
    'msgs/s',
    'CPU s / M msgs',
    'p50 ms',
    'p99 ms',
    'p99.9 ms',
    'vs mosquitto',
    'vs aedes',
    'generator CPU %',
  ];
  lines.push(`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`);
  const ratio = (row: Row, other: BrokerName) => {
    const o = rows.find((r) => r.scenario === row.scenario && r.broker === other);
    if (!o || row.broker === other || o.msgsPerSec === 0) return '';
    return `${fmt(row.msgsPerSec / o.msgsPerSec, 2)}x`;
  };
  for (const row of rows) {
    lines.push(
      `| ${row.scenario} | ${row.broker} | ${fmt(row.msgsPerSec)}${row.crashed ? ' (crashed)' : ''} | ${fmt(row.cpuPerMillion, 1)} | ${fmt(row.p50, 2)} | ${fmt(row.p99, 2)} | ${fmt(row.p999, 2)} | ${ratio(row, 'mosquitto')} | ${ratio(row, 'aedes')} | ${fmt(row.generatorCpu)} |`,
    );
  }
  lines.push('', '| memory per idle connection | ' + brokers.map((b) => b).join(' | ') + ' |');
  lines.push(`|---|${brokers.map(() => '---').join('|')}|`);
  const kib = (b: BrokerName, k: keyof IdleMemory) => fmt((memory.get(b)?.[k] ?? NaN) / 1024, 2);
  lines.push(`| KiB, RSS growth from start / N | ${brokers.map((b) => kib(b, 'growth')).join(' | ')} |`);
  lines.push(`| KiB, marginal (N/2 to N held) | ${brokers.map((b) => kib(b, 'marginal')).join(' | ')} |`);
  if (settle > 0)
    lines.push(
      `| KiB, growth from start / N, ${settle} s later | ${brokers.map((b) => kib(b, 'settled')).join(' | ')} |`,
    );
  lines.push(`| connections held | ${brokers.map((b) => fmt(held.get(b))).join(' | ')} |`);
  lines.push(
    `| RSS at start, MB | ${brokers.map((b) => fmt((startRss.get(b) ?? NaN) / 1e6, 1)).join(' | ')} |`,
  );
  if (rows.length > 0)
    lines.push(
      `| RSS after the scenarios, MB | ${brokers.map((b) => fmt((endRss.get(b) ?? NaN) / 1e6, 1)).join(' | ')} |`,
    );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      brokers: { type: 'string' },
      scenarios: { type: 'string' },
      duration: { type: 'string' },
      json: { type: 'string' },
      connections: { type: 'string' },
      'load-processes': { type: 'string' },
      'source-addresses': { type: 'string' },
      persistence: { type: 'boolean' },
      settle: { type: 'string' },
    },
  });
  const seconds = Number(values.duration ?? (values.quick ? 1 : 5));
  const settle = Number(values.settle ?? 0);
  const idleClients = Number(values.connections ?? (values.quick ? 300 : 1000));
  const spread = defaultSpread(idleClients);
  if (values['load-processes']) spread.processes = Number(values['load-processes']);
  if (values['source-addresses']) spread.sources = Math.min(254, Number(values['source-addresses']));
  const brokerNames = (values.brokers?.split(',') ?? [...BROKER_NAMES]) as BrokerName[];
  const scenarios = values.scenarios
    ? SCENARIOS.filter((s) => values.scenarios?.split(',').includes(s.id))
    : SCENARIOS;
  const started = Date.now();
  console.log(`broker benchmark: ${brokerNames.join(', ')}; ${seconds} s per scenario\n`);

  const running: RunningBroker[] = [];
  let cleanup = (): unknown => undefined;
  try {
    // --persistence: mqiot brokers keep their sessions in a SQLite file and the closed loops'
    // subscribers have persistent sessions, so every QoS 1/2 delivery is written and deleted again
    const dir = values.persistence ? mkdtempSync(join(tmpdir(), 'mqiot-bench-')) : undefined;
    cleanup = () => dir !== undefined && rmSync(dir, { recursive: true, force: true });
    const start = (name: BrokerName): Promise<RunningBroker> =>
      startBroker(name, dir === undefined ? [] : ['--persistence', join(dir, `${name}-${Date.now()}.db`)]);
    for (const name of brokerNames) running.push(await start(name));
    const memory = new Map<BrokerName, IdleMemory>();
    for (const b of running) memory.set(b.name, await memoryPerConnection(b, idleClients, spread, settle));
    const rows: Row[] = [];
    for (const s of scenarios) {
      console.log(`# ${s.title}`);
      // brokers take turns within a scenario, so a change in machine load hits all of them alike
      // The closed loops leave nothing queued behind them, so brokers carry on from one scenario to
      // the next; one that died is started again.
      for (let i = 0; i < running.length; i++) {
        if (!running[i].alive()) running[i] = await start(running[i].name);
      }
      for (const prepared of await prepare(s, running, dir !== undefined)) {
        const b = prepared.broker;
        const row = await measure(s, prepared, seconds);
        rows.push(row);
        console.log(
          `  ${b.name.padEnd(10)} ${fmt(row.msgsPerSec).padStart(10)} msgs/s  ${fmt(row.cpuPerMillion, 1).padStart(6)} CPU s/M` +
            (row.p50 !== undefined
              ? `  p50 ${fmt(row.p50, 2)} ms  p99 ${fmt(row.p99, 2)} ms  p99.9 ${fmt(row.p999, 2)} ms`
              : '') +
            `  (generator ${fmt(row.generatorCpu)}% CPU)` +
            (row.crashed ? '  (broker crashed)' : ''),
        );
      }
    }
    const endRss = new Map(running.map((b) => [b.name, b.alive() ? b.rssBytes() : NaN]));
    console.log(`\n${table(rows, memory, brokerNames, settle, endRss)}\n`);
    console.log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (values.json)
      writeFileSync(
        values.json,
        JSON.stringify({ seconds, rows, memory: Object.fromEntries(memory) }, null, 2),
      );
  } finally {
    await Promise.all(running.map((b) => b.stop()));
    cleanup();
  }
}

await main();
