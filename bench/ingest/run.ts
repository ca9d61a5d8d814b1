// Ingest benchmark: readings per second from data groups (CBOR envelopes on the gateway uplink) to stored
// rows, through the real platform path (envelope decode → contracts stage → batched store insert), on
// SQLite and on PostgreSQL; and bytes on the wire per reading, data group vs one JSON message per reading.
//
//   node --import tsx bench/ingest/run.ts [--groups 400] [--frames 50] [--pg postgres://...] [--semi 64]
// It measures the platform as bin/mqiot.js runs it, with V8's young generation in 64 MB semi-spaces (see
// there): without the flag it starts itself again with it; `--semi 0` keeps V8's default (16 MB).
// PostgreSQL runs when --pg or MQIOT_TEST_PG_URL is given (in its own schema, dropped afterwards).
// Beside each figure: the store's own ceiling (a plain insert loop of the same point rows, no platform),
// the peak RSS, and the read queries (one series for a day, 30-day aggregates, latest, CSV) on a month
// of one-per-minute readings, so a faster ingest is never bought with slower reads.
import { randomBytes } from 'node:crypto';
import { fork, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import pg from 'pg';
import Database from 'better-sqlite3';
import { Broker } from '../../src/broker/index.ts';
import { attachToBroker } from '../../src/app/broker-attach.ts';
import { ContractRegistry } from '../../src/platform/contract-registry.ts';
import { Platform } from '../../src/platform/platform.ts';
import { openPostgresStore, openSqliteStore, type PlatformStore } from '../../src/platform/store/index.ts';
import { encodeEnvelope, type Frame } from '../../src/protocol/envelope.ts';
import { benchFrame, DLT, T0 } from './frames.ts';
import { mosquittoHashing } from '../../src/app/secret-hashing.ts';

const { values } = parseArgs({
  options: {
    groups: { type: 'string', default: '400' },
    frames: { type: 'string', default: '50' },
    pg: { type: 'string' },
    // Readings (one a minute) of one series for the read checks (0 = skip); 43200 = 30 days.
    big: { type: 'string', default: '43200' },
    // Devices the frames cycle through: many devices means few readings per series in each batch.
    devices: { type: 'string', default: '100' },
    // MB of each young-generation semi-space (0: V8's default), as `--max-semi-space-size`
    semi: { type: 'string', default: '64' },
  },
});
const SEMI = Number(values.semi);
if (SEMI > 0 && !process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) {
  const again = spawnSync(
    process.execPath,
    [`--max-semi-space-size=${SEMI}`, ...process.execArgv, ...process.argv.slice(1)],
    { stdio: 'inherit' },
  );
  process.exit(again.status ?? 1);
}
const GROUPS = Number(values.groups);
const FRAMES = Number(values.frames);
const PG_URL = values.pg ?? process.env.MQIOT_TEST_PG_URL;
const GATEWAY = 'bench-site';
const UP_TOPIC = `mqiot/gw/${GATEWAY}/up`;
const DEVICES = Number(values.devices);
/** Data groups sent before the clock starts, to register every device (frames per group as measured). */
const WARM_GROUPS = Math.ceil(DEVICES / Number(values.frames));
const BIG = Number(values.big);
const frame = (i: number): Frame => benchFrame(i, DEVICES);

function groups(): Buffer[] {
  const out: Buffer[] = [];
  for (let g = 0; g < GROUPS; g++) {
    const frames = Array.from({ length: FRAMES }, (_, j) => frame(g * FRAMES + j));
    out.push(
      encodeEnvelope({ v: 1, k: 'data', gw: GATEWAY, seq: WARM_GROUPS + g, ts: T0 + g * 1000, frames }),
    );
  }
  return out;
}

/**
 * Sent before the clock starts: registers the gateway and every device and brings them online, so the
 * figures are the steady state (first sight of a device costs a few extra writes once).
 */
function warmUp(): Buffer[] {
  const out: Buffer[] = [];
  for (let g = 0; g < WARM_GROUPS; g++) {
    const frames = [];
    for (let d = g * FRAMES; d < Math.min(DEVICES, (g + 1) * FRAMES); d++) {
      frames.push({ ...frame(d), ts: T0 - 60_000 + d, seq: 1_000_000_000 + d });
    }
    out.push(encodeEnvelope({ v: 1, k: 'data', gw: GATEWAY, seq: g, ts: T0 - 60_000, frames }));
  }
  return out;
}

/** Bytes of one MQTT PUBLISH (QoS 1) carrying `payload` on `topic`. */
function publishBytes(topic: string, payload: Buffer): number {
  return mqttPacket.generate({
    cmd: 'publish',
    topic,
    payload,
    qos: 1,
    messageId: 1,
    retain: false,
    dup: false,
  }).length;
}

/** Peak resident set size while `work` runs (sampled every 20 ms). */
async function peakRss<T>(work: () => Promise<T>): Promise<{ result: T; rssMb: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, rssMb: peak / 1024 / 1024 };
  } finally {
    clearInterval(timer);
  }
}

/** The point rows the readings carry: (series, ts, seq, value), 1 or 2 per reading like the contracts decode. */
function pointRows(): [number, number, number, number][] {
  const rows: [number, number, number, number][] = [];
  for (let i = 0; i < GROUPS * FRAMES; i++) {
    const f = frame(i);
    const device = i % DEVICES;
    if (f.c === 'dlt645-2007') rows.push([device * 2, f.ts, f.seq, 0.26]);
    else rows.push([device * 2, f.ts, f.seq, 5], [device * 2 + 1, f.ts, f.seq, 6]);
  }
  return rows;
}

/**
 * The store's own ceiling: a plain loop inserting the same point rows, integer keyed, in transactions of
 * the platform's batch size (200 data groups) — no decoding, no frames, no rollups. Readings/s.
 */
function sqliteCeiling(dir: string): number {
  const db = new Database(join(dir, 'ceiling.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE p (series INTEGER NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL, value REAL,
    PRIMARY KEY (series, ts, seq)) WITHOUT ROWID`);
  const insert = db.prepare('INSERT INTO p VALUES (?, ?, ?, ?)');
  const rows = pointRows();
  const perTx = Math.ceil((rows.length / GROUPS) * 200);
  const start = process.hrtime.bigint();
  for (let at = 0; at < rows.length; at += perTx) {
    db.transaction(() => {
      for (const row of rows.slice(at, at + perTx)) insert.run(...row);
    })();
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  db.close();
  return (GROUPS * FRAMES) / seconds;
}

/** PostgreSQL's ceiling: the same rows through multi-row `unnest` inserts, one transaction per batch. */
async function postgresCeiling(url: string, schema: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`CREATE TABLE ${schema}.ceiling (series INTEGER NOT NULL, ts BIGINT NOT NULL,
    seq BIGINT NOT NULL, value DOUBLE PRECISION, PRIMARY KEY (series, ts, seq))`);
  const rows = pointRows();
  const perTx = Math.ceil((rows.length / GROUPS) * 200);
  const start = process.hrtime.bigint();
  for (let at = 0; at < rows.length; at += perTx) {
    const chunk = rows.slice(at, at + perTx);
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO ${schema}.ceiling SELECT * FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::float8[])`,
      [0, 1, 2, 3].map((c) => chunk.map((r) => r[c])),
    );
    await client.query('COMMIT');
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await client.end();
  return (GROUPS * FRAMES) / seconds;
}

async function measure(name: string, store: PlatformStore, messages: Buffer[], ceiling: number) {
  const contracts = new ContractRegistry(store);
  await contracts.load();
  const platform = new Platform({}, { store, contracts, secretHashing: mosquittoHashing });
  await platform.start({ timers: false });
  for (const m of warmUp()) platform.handleUplink(UP_TOPIC, m);
  await platform.whenIdle();
  const warm = await store.countPoints();
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const { rssMb } = await peakRss(async () => {
    for (const m of messages) platform.handleUplink(UP_TOPIC, m);
    await platform.whenIdle();
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  const readings = GROUPS * FRAMES;
  // CPU time of this process per reading: steadier than wall time on a machine other work shares.
  const cpuUs = (cpu.user + cpu.system) / readings;
  const points = (await store.countPoints()) - warm;
  // readings written again by merges of small blocks, per reading stored (the layout's write amplification)
  const rewrites = store.mergedReadings() / readings;
  await platform.stop();
  const aggStart = process.hrtime.bigint();
  await store.aggregate({
    deviceId: 'pm-1',
    point: 'holding.3',
    from: T0,
    to: T0 + readings * 10,
    bucketMs: 60_000,
  });
  const aggMs = Number(process.hrtime.bigint() - aggStart) / 1e6;
  console.log(
    `${name.padEnd(10)} ${readings} readings (${points} points) in ${seconds.toFixed(2)} s: ` +
      `${Math.round(readings / seconds)} readings/s, ${Math.round(points / seconds)} points/s; aggregate query ${aggMs.toFixed(1)} ms`,
  );
  console.log(
    `${''.padEnd(10)} store ceiling (plain insert loop of the same point rows): ${Math.round(ceiling)} readings/s; ` +
      `platform/ceiling ${((readings / seconds / ceiling) * 100).toFixed(0)}%; peak RSS ${rssMb.toFixed(0)} MB; ` +
      `CPU ${cpuUs.toFixed(1)} µs/reading (${Math.round(1e6 / cpuUs)} readings/s per busy core); ` +
      `block merges rewrote ${rewrites.toFixed(2)} readings per reading`,
  );
}

/** A data group as gateway-process.ts reads it: its length, 4 bytes big-endian. */
function lengthPrefix(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/**
 * The whole path as deployed by `mqiot up`: a gateway in its own process (MQTT.js over TCP, QoS 1)
 * publishes the data groups to the broker, the platform attached in process decodes and stores them.
 */
async function measureViaBroker(store: PlatformStore, messages: Buffer[], ceiling: number, dir: string) {
  const broker = new Broker();
  const server = net.createServer((socket) => broker.handle(socket, { transport: 'tcp' }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const contracts = new ContractRegistry(store);
  await contracts.load();
  const platform = new Platform({}, { store, contracts, secretHashing: mosquittoHashing });
  await platform.start({ timers: false });
  const attachment = attachToBroker(platform, broker);
  for (const m of warmUp()) platform.handleUplink(UP_TOPIC, m);
  await platform.whenIdle();
  const port = (server.address() as net.AddressInfo).port;
  // the gateway publishes from its own process (gateway-process.ts), as a real one would
  const file = join(dir, 'groups.bin');
  writeFileSync(file, Buffer.concat(messages.flatMap((m) => [lengthPrefix(m.length), m])));
  const gateway = fork(fileURLToPath(new URL('./gateway-process.ts', import.meta.url)), [
    `mqtt://127.0.0.1:${port}`,
    file,
    UP_TOPIC,
  ]);
  await new Promise<void>((resolve, reject) => {
    gateway.once('message', () => resolve());
    gateway.once('exit', (code) => reject(new Error(`gateway process exited with ${code}`)));
  });
  const exited = new Promise((resolve) => gateway.once('exit', resolve));
  const readings = GROUPS * FRAMES;
  // Telemetry is published after the readings are committed: the last one means all are stored.
  let stored = 0;
  const done = new Promise<void>((resolve) =>
    platform.subscribe((n) => {
      if (n.type === 'telemetry' && ++stored === readings) resolve();
    }),
  );
  const start = process.hrtime.bigint();
  const { rssMb } = await peakRss(async () => {
    gateway.send('go');
    await done;
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(
    `${'via broker'.padEnd(10)} ${readings} readings over MQTT (QoS 1, gateway in its own process) into SQLite in ${seconds.toFixed(2)} s: ` +
      `${Math.round(readings / seconds)} readings/s; platform/ceiling ${((readings / seconds / ceiling) * 100).toFixed(0)}%; peak RSS ${rssMb.toFixed(0)} MB`,
  );
  await exited;
  attachment.detach();
  await platform.stop();
  await broker.close();
  await new Promise((resolve) => server.close(resolve));
}

/** Milliseconds one call of `read` takes (best of 5: the machine is shared). */
async function timeRead(read: () => Promise<unknown>): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t = process.hrtime.bigint();
    await read();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e6);
  }
  return best;
}

/**
 * Reads over one series of `BIG` readings one minute apart (43200 = 30 days): one day of raw values,
 * 30 days of hourly aggregates, the latest values and a day's CSV export.
 */
async function reads(name: string, store: PlatformStore) {
  const step = 60_000;
  const batch = 5000;
  for (let start = 0; start < BIG; start += batch) {
    const rows = [];
    for (let i = start; i < Math.min(BIG, start + batch); i++) {
      rows.push({
        gatewayId: GATEWAY,
        groupSeq: 1_000_000 + Math.floor(i / 50),
        frameIndex: i % 50,
        deviceId: 'big-1',
        seq: i,
        ts: T0 + i * step,
        receivedAt: T0 + i * step,
        contractId: 'dlt645-2007',
        raw: DLT,
        points: [{ name: 'p', value: Math.sin(i / 1000) * 100, unit: 'kW' }],
      });
    }
    await store.insertReadings(rows);
  }
  const end = T0 + BIG * step;
  const day = { deviceId: 'big-1', point: 'p', from: end - 86_400_000, to: end };
  // the reads are checked, not only timed: a faster read that lost readings would be no figure
  const dayRows = (await store.range(day)).length;
  const hours = (await store.aggregate({ ...day, from: end - 30 * 86_400_000, bucketMs: 3_600_000 })).length;
  if (dayRows !== 1440 || hours !== 720)
    throw new Error(`reads are wrong: ${dayRows} readings in a day (1440), ${hours} hourly buckets (720)`);
  const figures = [
    ['one series, one day', await timeRead(() => store.range(day))],
    [
      '30-day aggregate, 1 h buckets',
      await timeRead(() => store.aggregate({ ...day, from: end - 30 * 86_400_000, bucketMs: 3_600_000 })),
    ],
    ['latest', await timeRead(() => store.latest('big-1'))],
    ['CSV, one day', await timeRead(() => store.exportCsv(day))],
  ] as const;
  console.log(
    `${name.padEnd(10)} reads over ${BIG} readings of one series: ` +
      figures.map(([label, ms]) => `${label} ${ms.toFixed(1)} ms`).join('; '),
  );
}

async function main() {
  const messages = groups();
  const readings = GROUPS * FRAMES;

  // Bytes on the wire: the data groups as sent, vs one JSON message per reading on a per-device topic.
  const groupBytes = messages.reduce((sum, m) => sum + publishBytes(UP_TOPIC, m), 0);
  let jsonBytes = 0;
  for (let i = 0; i < readings; i++) {
    const f = frame(i);
    const points =
      f.c === 'dlt645-2007'
        ? [{ name: 'energy_active_forward_total', value: 0.26, unit: 'kWh' }]
        : [
            { name: 'holding.3', value: 5 },
            { name: 'holding.4', value: 6 },
          ];
    const body = Buffer.from(JSON.stringify({ gw: GATEWAY, dev: f.dev, ts: f.ts, seq: f.seq, points }));
    jsonBytes += publishBytes(`mqiot/dev/${f.dev}/telemetry`, body);
  }
  console.log(
    `V8 young generation: ${SEMI > 0 ? `${SEMI} MB semi-spaces (as bin/mqiot.js)` : "V8's default semi-spaces (--semi 0)"}`,
  );
  console.log(
    `wire: ${GROUPS} data groups of ${FRAMES} frames (CBOR, raw frames) vs one JSON message per reading, MQTT PUBLISH QoS 1 bytes`,
  );
  console.log(
    `  data group: ${(groupBytes / readings).toFixed(1)} B/reading; JSON per reading: ${(jsonBytes / readings).toFixed(1)} B/reading ` +
      `(${(jsonBytes / groupBytes).toFixed(2)}x more); MQTT messages ${GROUPS} vs ${readings}`,
  );

  const dir = mkdtempSync(join(tmpdir(), 'mqiot-bench-'));
  try {
    const ceiling = sqliteCeiling(dir);
    const sqlite = await openSqliteStore(join(dir, 'bench.db'));
    await measure('sqlite', sqlite, messages, ceiling);
    if (BIG > 0) await reads('sqlite', sqlite);
    await sqlite.close();
    const viaBroker = await openSqliteStore(join(dir, 'bench-broker.db'));
    await measureViaBroker(viaBroker, messages, ceiling, dir);
    await viaBroker.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  if (!PG_URL) {
    console.log('postgres   skipped (no --pg URL and no MQIOT_TEST_PG_URL)');
    return;
  }
  const schema = `mqiot_bench_${randomBytes(4).toString('hex')}`;
  const store = await openPostgresStore(PG_URL, { schema });
  try {
    await measure('postgres', store, messages, await postgresCeiling(PG_URL, schema));
    if (BIG > 0) await reads('postgres', store);
  } finally {
    await store.close();
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`DROP SCHEMA ${schema} CASCADE`);
    await client.end();
  }
}

await main();
