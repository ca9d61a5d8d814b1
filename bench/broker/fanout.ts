// Fan-out to offline persistent sessions: N sessions subscribed to one topic go offline, M QoS 1
// messages are published to it, and the bench reports what each broker holds for them: RSS and (for
// mqiot) live heap growth per queued message, and the growth of its persistence file.
//   node --import tsx bench/broker/fanout.ts [--sessions 1,100,1000,10000] [--entries 100000]
//        [--min-messages 100] [--brokers mqiot,mqiot-sqlite,mosquitto] [--json FILE]
// With BENCH_BASELINE_ROOT=/other/checkout the default adds mqiot-base and mqiot-base-sqlite (that
// checkout's `bin/mqiot.js`), so a change is measured against the code before it in one run.
// See bench/broker/README.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Mosquitto } from '../../test/support/mosquitto.ts';
import { canConnect, freePort } from '../../test/support/ports.ts';
import { waitFor } from '../../test/support/wait.ts';
import { publishTemplate, RawClient } from './raw-client.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HEAP_PROBE = fileURLToPath(new URL('./heap-probe.mjs', import.meta.url));
const TOPIC = 'bench/fan';
const PAYLOAD = 64;
/** Sessions connecting at once while they are made. */
const CONNECT_BATCH = 100;
/** QoS 1 messages the publisher keeps unacknowledged. */
const WINDOW = 500;

type TargetName = 'mqiot' | 'mqiot-sqlite' | 'mqiot-base' | 'mqiot-base-sqlite' | 'mosquitto';

interface Target {
  name: TargetName;
  /** A checkout of mqiot, or undefined for Mosquitto. */
  root: string | undefined;
  /** Sessions and queued messages go to a file (SQLite for mqiot, mosquitto.db for Mosquitto). */
  persistent: boolean;
}

function target(name: TargetName): Target {
  if (name === 'mosquitto') return { name, root: undefined, persistent: true };
  const base = name.startsWith('mqiot-base');
  const root = base ? process.env.BENCH_BASELINE_ROOT : ROOT;
  if (root === undefined) throw new Error(`${name} needs BENCH_BASELINE_ROOT=<another mqiot checkout>`);
  return { name, root, persistent: name.endsWith('-sqlite') };
}

interface Running {
  port: number;
  rssBytes(): number;
  /** Live heap after a full GC (mqiot only). */
  heapBytes(): Promise<number | undefined>;
  stop(): Promise<void>;
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startMqiot(root: string, file: string | undefined): Promise<Running> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--expose-gc',
      '--import',
      HEAP_PROBE,
      join(root, 'bin/mqiot.js'),
      'broker',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--ws-port',
      'off',
      '--metrics-port',
      'off',
      '--log-level',
      'warn',
      ...(file === undefined ? [] : ['--persistence', file]),
    ],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...process.env, MQIOT_BROKER_SYS_INTERVAL: '0' },
    },
  );
  await waitFor(`mqiot on ${port}`, async () => {
    if (child.exitCode !== null) throw new Error(`mqiot exited with code ${child.exitCode}`);
    return canConnect(port);
  });
  const pid = child.pid as number;
  return {
    port,
    rssBytes: () => rssOf(pid),
    heapBytes: () =>
      new Promise((resolve) => {
        child.once('message', (m: { heapUsed: number }) => resolve(m.heapUsed));
        child.send('heap');
      }),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function startMosquitto(dir: string, port: number | undefined): Promise<Running> {
  // persistence as a site would run it; the database is written at exit (autosave_interval is 30 min)
  const m = await Mosquitto.start(port, ['persistence true', `persistence_location ${dir}/`]);
  const pid = m.pid as number;
  return {
    port: m.port,
    rssBytes: () => rssOf(pid),
    heapBytes: async () => undefined,
    stop: async () => {
      await m.stop('SIGTERM');
      await m.dispose();
    },
  };
}

/** N persistent sessions (3.1.1 clean session 0 and v5 with an expiry, alternately) subscribed to TOPIC, then gone. */
async function makeSessions(port: number, n: number): Promise<void> {
  for (let i = 0; i < n; i += CONNECT_BATCH) {
    const batch = Array.from({ length: Math.min(CONNECT_BATCH, n - i) }, async (_, k) => {
      const version = (i + k) % 2 === 0 ? 4 : 5;
      const c = await RawClient.connect(port, `bench-fan-${i + k}`, 60, version, { clean: false });
      await c.subscribe(TOPIC, 1, version);
      c.end();
      await new Promise((r) => c.socket.once('close', r));
    });
    await Promise.all(batch);
  }
}

/** Publishes `m` QoS 1 messages and waits for every PUBACK; returns the seconds it took. */
async function publish(port: number, m: number): Promise<number> {
  const c = await RawClient.connect(port, 'bench-fan-publisher');
  const template = publishTemplate(TOPIC, 1, PAYLOAD);
  const started = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      if (sent >= m && c.inflight === 0) return resolve();
      const room = Math.min(WINDOW - c.inflight, m - sent);
      if (room >= WINDOW / 4 || (room > 0 && sent + room === m)) {
        c.publishBatch(template, room);
        sent += room;
      }
    };
    c.onAck = pump;
    pump();
  });
  const seconds = (performance.now() - started) / 1000;
  c.end();
  return seconds;
}

/** The persistence file's size, with SQLite's WAL when one is left. */
function fileBytes(path: string): number {
  let total = 0;
  for (const p of [path, `${path}-wal`]) if (existsSync(p)) total += statSync(p).size;
  return total;
}

interface Row {
  broker: TargetName;
  sessions: number;
  messages: number;
  /** sessions × messages: what the broker holds queued at the end. */
  entries: number;
  rssGrowth: number;
  heapGrowth: number | undefined;
  fileGrowth: number | undefined;
  publishSeconds: number;
}

async function measure(t: Target, sessions: number, messages: number): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'mqiot-fanout-'));
  // Mosquitto started as root runs as the user `mosquitto` and must be able to write its database here
  chmodSync(dir, 0o777);
  const file = t.root === undefined ? join(dir, 'mosquitto.db') : join(dir, 'broker.db');
  const start = (port?: number): Promise<Running> =>
    t.root === undefined ? startMosquitto(dir, port) : startMqiot(t.root, t.persistent ? file : undefined);
  try {
    let broker = await start();
    await makeSessions(broker.port, sessions);
    let fileBefore: number | undefined;
    if (t.persistent) {
      // a clean stop writes (Mosquitto) or checkpoints (SQLite) the sessions; the file then holds
      // only them, and the restarted broker restores them from it
      await broker.stop();
      fileBefore = fileBytes(file);
      broker = await start(broker.port);
    }
    await sleep(500);
    const heap0 = await broker.heapBytes();
    const rss0 = broker.rssBytes();
    const publishSeconds = await publish(broker.port, messages);
    await sleep(500);
    const heap1 = await broker.heapBytes();
    const rss1 = broker.rssBytes();
    await broker.stop();
    return {
      broker: t.name,
      sessions,
      messages,
      entries: sessions * messages,
      rssGrowth: rss1 - rss0,
      heapGrowth: heap0 === undefined || heap1 === undefined ? undefined : heap1 - heap0,
      fileGrowth: fileBefore === undefined ? undefined : fileBytes(file) - fileBefore,
      publishSeconds,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n)
    ? '—'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function table(rows: Row[]): string {
  const head = [
    'sessions × messages',
    'broker',
    'RSS growth MB',
    'RSS B / queued',
    'heap B / queued',
    'file growth MB',
    'file B / message',
    'file B / queued',
    'publish s',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`];
  for (const r of rows) {
    lines.push(
      `| ${fmt(r.sessions)} × ${fmt(r.messages)} | ${r.broker} | ${fmt(r.rssGrowth / 1e6, 1)} | ${fmt(r.rssGrowth / r.entries)} | ${fmt(r.heapGrowth === undefined ? undefined : r.heapGrowth / r.entries)} | ${fmt(r.fileGrowth === undefined ? undefined : r.fileGrowth / 1e6, 1)} | ${fmt(r.fileGrowth === undefined ? undefined : r.fileGrowth / r.messages)} | ${fmt(r.fileGrowth === undefined ? undefined : r.fileGrowth / r.entries)} | ${fmt(r.publishSeconds, 2)} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sessions: { type: 'string' },
      entries: { type: 'string' },
      'min-messages': { type: 'string' },
      brokers: { type: 'string' },
      json: { type: 'string' },
    },
  });
  const counts = (values.sessions ?? '1,100,1000,10000').split(',').map(Number);
  // M = entries / N, at least min-messages: enough queued entries that RSS noise does not dominate
  const entries = Number(values.entries ?? 100_000);
  const minMessages = Number(values['min-messages'] ?? 100);
  const defaults: TargetName[] = process.env.BENCH_BASELINE_ROOT
    ? ['mqiot', 'mqiot-base', 'mqiot-sqlite', 'mqiot-base-sqlite', 'mosquitto']
    : ['mqiot', 'mqiot-sqlite', 'mosquitto'];
  const targets = ((values.brokers?.split(',') as TargetName[] | undefined) ?? defaults).map(target);
  console.log(`fan-out to offline persistent sessions: ${targets.map((t) => t.name).join(', ')}\n`);
  const rows: Row[] = [];
  for (const n of counts) {
    const m = Math.max(minMessages, Math.ceil(entries / n));
    console.log(`# ${n} sessions, ${m} QoS 1 messages of ${PAYLOAD} bytes`);
    for (const t of targets) {
      const row = await measure(t, n, m);
      rows.push(row);
      console.log(
        `  ${t.name.padEnd(18)} RSS +${fmt(row.rssGrowth / 1e6, 1)} MB (${fmt(row.rssGrowth / row.entries)} B/queued)` +
          (row.heapGrowth === undefined ? '' : `  heap ${fmt(row.heapGrowth / row.entries)} B/queued`) +
          (row.fileGrowth === undefined ? '' : `  file +${fmt(row.fileGrowth / 1e6, 1)} MB`) +
          `  publish ${fmt(row.publishSeconds, 2)} s`,
      );
    }
  }
  console.log(`\n${table(rows)}\n`);
  if (values.json) writeFileSync(values.json, JSON.stringify(rows, null, 2));
}

await main();
