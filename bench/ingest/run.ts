// Ingest benchmark: readings per second from data groups (CBOR envelopes on the gateway uplink) to stored
// rows, through the real platform path (envelope decode → contracts stage → batched store insert), on
// SQLite and on PostgreSQL; and bytes on the wire per reading, data group vs one JSON message per reading.
//
//   node --import tsx bench/ingest/run.ts [--groups 400] [--frames 50] [--pg postgres://...]
// PostgreSQL runs when --pg or MQIOT_TEST_PG_URL is given (in its own schema, dropped afterwards).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import net from 'node:net';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import pg from 'pg';
import { Broker } from '../../src/broker/index.ts';
import { attachToBroker } from '../../src/app/broker-attach.ts';
import { ContractRegistry } from '../../src/platform/contract-registry.ts';
import { Platform } from '../../src/platform/platform.ts';
import { openPostgresStore, openSqliteStore, type PlatformStore } from '../../src/platform/store/index.ts';
import { encodeEnvelope, type Frame } from '../../src/protocol/envelope.ts';
import { mosquittoHashing } from '../../src/app/secret-hashing.ts';

const { values } = parseArgs({
  options: {
    groups: { type: 'string', default: '400' },
    frames: { type: 'string', default: '50' },
    pg: { type: 'string' },
    // Rows of one series for the aggregate-query check (0 = skip); e.g. --big 1000000.
    big: { type: 'string', default: '0' },
  },
});
const GROUPS = Number(values.groups);
const FRAMES = Number(values.frames);
const PG_URL = values.pg ?? process.env.MQIOT_TEST_PG_URL;
const GATEWAY = 'bench-site';
const UP_TOPIC = `mqiot/gw/${GATEWAY}/up`;
const DEVICES = 100;
const BIG = Number(values.big);
const T0 = Date.UTC(2026, 0, 1);

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
// Frames from the shared vectors: a DL/T 645 energy reading and a Modbus TCP two-register answer.
const DLT = hex('68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16');
const MODBUS = hex('00 01 00 00 00 07 01 03 04 00 05 00 06');

function frame(i: number): Frame {
  const device = i % DEVICES;
  const ts = T0 + i * 10;
  return device % 2 === 0
    ? { dev: `meter-${device}`, c: 'dlt645-2007', ts, seq: i, raw: DLT, ctx: { di: '00010000' } }
    : {
        dev: `pm-${device}`,
        c: 'modbus-tcp',
        ts,
        seq: i,
        raw: MODBUS,
        ctx: { unit: 1, function: 3, start: 3, count: 2 },
      };
}

function groups(): Buffer[] {
  const out: Buffer[] = [];
  for (let g = 0; g < GROUPS; g++) {
    const frames = Array.from({ length: FRAMES }, (_, j) => frame(g * FRAMES + j));
    out.push(encodeEnvelope({ v: 1, k: 'data', gw: GATEWAY, seq: g + 1, ts: T0 + g * 1000, frames }));
  }
  return out;
}

/**
 * Sent before the clock starts: registers the gateway and every device and brings them online, so the
 * figures are the steady state (first sight of a device costs a few extra writes once).
 */
function warmUp(): Buffer {
  const frames = Array.from({ length: DEVICES }, (_, d) => ({
    ...frame(d),
    ts: T0 - 60_000 + d,
    seq: 1_000_000 + d,
  }));
  return encodeEnvelope({ v: 1, k: 'data', gw: GATEWAY, seq: 0, ts: T0 - 60_000, frames });
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

async function measure(name: string, store: PlatformStore, messages: Buffer[]) {
  const contracts = new ContractRegistry(store);
  await contracts.load();
  const platform = new Platform({}, { store, contracts, secretHashing: mosquittoHashing });
  await platform.start({ timers: false });
  platform.handleUplink(UP_TOPIC, warmUp());
  await platform.whenIdle();
  const warm = await store.countPoints();
  const start = process.hrtime.bigint();
  for (const m of messages) platform.handleUplink(UP_TOPIC, m);
  await platform.whenIdle();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const readings = GROUPS * FRAMES;
  const points = (await store.countPoints()) - warm;
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
}

/**
 * The whole path as deployed by `mqiot up`: a gateway (MQTT.js over TCP, QoS 1) publishes the data groups
 * to the broker, the platform attached in process decodes and stores them.
 */
async function measureViaBroker(store: PlatformStore, messages: Buffer[]) {
  const broker = new Broker();
  const server = net.createServer((socket) => broker.handle(socket, { transport: 'tcp' }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const contracts = new ContractRegistry(store);
  await contracts.load();
  const platform = new Platform({}, { store, contracts, secretHashing: mosquittoHashing });
  await platform.start({ timers: false });
  const attachment = attachToBroker(platform, broker);
  platform.handleUplink(UP_TOPIC, warmUp());
  await platform.whenIdle();
  const port = (server.address() as net.AddressInfo).port;
  const gateway = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    clientId: 'bench-gw',
    reconnectPeriod: 0,
  });
  const readings = GROUPS * FRAMES;
  // Telemetry is published after the readings are committed: the last one means all are stored.
  let stored = 0;
  const done = new Promise<void>((resolve) =>
    platform.subscribe((n) => {
      if (n.type === 'telemetry' && ++stored === readings) resolve();
    }),
  );
  const start = process.hrtime.bigint();
  await Promise.all(messages.map((m) => gateway.publishAsync(UP_TOPIC, m, { qos: 1 })));
  await done;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(
    `${'via broker'.padEnd(10)} ${readings} readings over MQTT (QoS 1) into SQLite in ${seconds.toFixed(2)} s: ` +
      `${Math.round(readings / seconds)} readings/s`,
  );
  await gateway.endAsync();
  attachment.detach();
  await platform.stop();
  await broker.close();
  await new Promise((resolve) => server.close(resolve));
}

/** Aggregates over one series of `BIG` rows (one reading per second): is it still fast? */
async function bigSeries(name: string, store: PlatformStore) {
  const batch = 5000;
  for (let start = 0; start < BIG; start += batch) {
    const rows = [];
    for (let i = start; i < Math.min(BIG, start + batch); i++) {
      rows.push({
        gatewayId: GATEWAY,
        groupSeq: i,
        frameIndex: 0,
        deviceId: 'big-1',
        seq: i,
        ts: T0 + i * 1000,
        receivedAt: T0 + i * 1000,
        contractId: 'dlt645-2007',
        raw: DLT,
        points: [{ name: 'p', value: Math.sin(i / 1000) * 100, unit: 'kW' }],
      });
    }
    await store.insertReadings(rows);
  }
  for (const [label, from, to, bucketMs] of [
    ['whole range, 1 h buckets', T0, T0 + BIG * 1000, 3_600_000],
    ['last day, 5 min buckets', T0 + BIG * 1000 - 86_400_000, T0 + BIG * 1000, 300_000],
  ] as const) {
    const t = process.hrtime.bigint();
    const buckets = await store.aggregate({ deviceId: 'big-1', point: 'p', from, to, bucketMs });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    console.log(
      `${name.padEnd(10)} aggregate over ${BIG} rows (${label}): ${buckets.length} buckets in ${ms.toFixed(0)} ms`,
    );
  }
  const t = process.hrtime.bigint();
  await store.latest('big-1');
  console.log(
    `${name.padEnd(10)} latest values: ${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(1)} ms`,
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
    `wire: ${GROUPS} data groups of ${FRAMES} frames (CBOR, raw frames) vs one JSON message per reading, MQTT PUBLISH QoS 1 bytes`,
  );
  console.log(
    `  data group: ${(groupBytes / readings).toFixed(1)} B/reading; JSON per reading: ${(jsonBytes / readings).toFixed(1)} B/reading ` +
      `(${(jsonBytes / groupBytes).toFixed(2)}x more); MQTT messages ${GROUPS} vs ${readings}`,
  );

  const dir = mkdtempSync(join(tmpdir(), 'mqiot-bench-'));
  try {
    const sqlite = await openSqliteStore(join(dir, 'bench.db'));
    await measure('sqlite', sqlite, messages);
    if (BIG > 0) await bigSeries('sqlite', sqlite);
    await sqlite.close();
    const viaBroker = await openSqliteStore(join(dir, 'bench-broker.db'));
    await measureViaBroker(viaBroker, messages);
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
    await measure('postgres', store, messages);
    if (BIG > 0) await bigSeries('postgres', store);
  } finally {
    await store.close();
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`DROP SCHEMA ${schema} CASCADE`);
    await client.end();
  }
}

await main();
