// High availability behind an edge, with real processes as a user runs them: Debian's Mosquitto as the
// cloud broker, one PostgreSQL, two `mqiot cloud --broker` instances keeping no session, an `mqiot edge`
// forwarding to Mosquitto, fed by `mqiot sim` devices through a real `mqiot gateway`. The edge's forward
// queue waits for the cloud's `data-ack`, not Mosquitto's PUBACK: one instance SIGKILLed while data
// flows costs nothing (the survivor stores ≥ 90 % of the next 20 s within 30 s), and neither does a
// time with no cloud instance at all (Mosquitto accepts the uplinks and drops them) until one starts.
// In the end every frame is stored exactly once and published once on the live telemetry topics.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { decodeSampleBlock } from '../../src/platform/store/sample-block.ts';
import { testPostgresUrl } from './helpers.ts';
import { logLines, runCli, type RunningCli } from '../support/cli.ts';
import { Mosquitto } from '../support/mosquitto.ts';
import { connectClient } from '../support/mqtt.ts';
import { freePort } from '../support/ports.ts';
import { makeTempDir } from '../support/temp.ts';
import { PROCESS_START_MS, waitFor } from '../support/wait.ts';

const url = testPostgresUrl('high-availability behind an edge test');
const ENV = { MQIOT_ADMIN_PASSWORD: 'ha-edge-test-pw-1' };
const DEVICES = ['pm-1', 'pm-2', 'pm-3', 'meter-161'];

interface Stored {
  dev: string;
  seq: number;
  ts: number;
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Rows of a SQLite queue file another process writes (WAL: a read-only reader sees its commits). */
function countRows(path: string, sql: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(sql).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

if (url)
  describe('takeover behind an edge: Mosquitto, PostgreSQL, two mqiot cloud, mqiot edge, mqiot gateway', () => {
    const tmp = makeTempDir('mqiot-ha-edge-');
    const schema = `mqiot_ha_edge_${randomBytes(5).toString('hex')}`;
    const schemaUrl = `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    const forwardQueue = join(tmp.dir, 'edge', 'forward-queue.db');
    const gatewayQueue = join(tmp.dir, 'q.db');
    let db: pg.Client;
    let mosquitto: Mosquitto;
    const procs: RunningCli[] = [];
    let sim: RunningCli;
    let edge: RunningCli;
    let gateway: RunningCli;
    const telemetry = new Map<string, number>();

    const stored = async (): Promise<Stored[]> => {
      const blocks = await db.query<{ dev: string; body: Buffer }>(
        `SELECT s.device_id AS dev, b.body FROM ${schema}.sample_blocks b JOIN ${schema}.series s ON s.id = b.series_id`,
      );
      const frames = new Map<string, Stored>();
      for (const { dev, body } of blocks.rows) {
        for (const sample of decodeSampleBlock(body)) {
          const key = `${dev}\u0000${sample.seq}`;
          const seen = frames.get(key);
          if (!seen || sample.ts < seen.ts) frames.set(key, { dev, seq: sample.seq, ts: sample.ts });
        }
      }
      return [...frames.values()];
    };

    const running = async (cli: RunningCli, message: string) =>
      waitFor(
        () => `"${message}": ${cli.stderr()}${cli.stdout().slice(-3000)}`,
        () => {
          if (cli.child.exitCode !== null) throw new Error(`exited: ${cli.stderr()}${cli.stdout()}`);
          return logLines(cli.stdout()).some((l) => l.msg === message);
        },
        PROCESS_START_MS,
      );

    const startCloud = async (name: string) => {
      const metricsPort = await freePort();
      const cli = runCli(
        [
          'cloud',
          ...['--broker', mosquitto.url, '--postgres', schemaUrl, '--instance-id', name],
          ...['--http-host', '127.0.0.1', '--http-port', '0', '--metrics-port', String(metricsPort)],
          ...['--unknown-gateways', 'register', '--heartbeat-ms', '5000'],
        ],
        ENV,
      );
      procs.push(cli);
      await running(cli, 'mqiot cloud: running');
      return { cli, metricsPort };
    };

    before(async () => {
      db = new pg.Client({ connectionString: url });
      await db.connect();
      await db.query(`CREATE SCHEMA ${schema}`);
      mosquitto = await Mosquitto.start();
      const watcher = await connectClient(mosquitto.url, { clientId: 'live-watcher' });
      await watcher.subscribeAsync('mqiot/dev/+/telemetry', { qos: 1 });
      watcher.on('message', (_topic, payload) => {
        const m = JSON.parse(payload.toString()) as { dev: string; seq: number };
        const key = `${m.dev}#${m.seq}`;
        telemetry.set(key, (telemetry.get(key) ?? 0) + 1);
      });
      after(() => watcher.end(true));
      const edgePort = await freePort();
      edge = runCli(
        [
          'edge',
          ...['--cloud', mosquitto.url, '--edge-id', 'site-ha', '--allow-anonymous'],
          ...['--data-dir', join(tmp.dir, 'edge'), '--host', '127.0.0.1', '--port', String(edgePort)],
          ...['--http-port', '0', '--ws-port', 'off', '--metrics-port', 'off'],
        ],
        ENV,
      );
      procs.push(edge);
      await running(edge, 'mqiot edge: running');
      sim = runCli(['sim', '--modbus-tcp', '0', '--dlt645-tcp', '0', '--units', '1,2,3']);
      procs.push(sim);
      const ready = await waitFor(
        'sim ready',
        () => /\{"ready":true[^\n]*\}/.exec(sim.stdout())?.[0],
        PROCESS_START_MS,
      );
      const ports = JSON.parse(ready) as { modbusTcpPort: number; dlt645Port: number };
      const modbus = (unit: number) => `
  - id: pm-${unit}
    contract: modbus-tcp
    transport: { type: tcp, host: 127.0.0.1, port: ${ports.modbusTcpPort} }
    params: { unit: ${unit} }
    poll: [{ message: read-holding-registers, params: { start: 0, count: 4 }, everyMs: 250 }]`;
      const config = join(tmp.dir, 'gw.yaml');
      writeFileSync(
        config,
        `gateway: { id: site-ha-gw }
mqtt: { urls: ['mqtt://127.0.0.1:${edgePort}'], reconnectMs: 200 }
batching: { windowMs: 250 }
queue: { path: ./q.db }
devices:${modbus(1)}${modbus(2)}${modbus(3)}
  - id: meter-161
    contract: dlt645-2007
    transport: { type: tcp, host: 127.0.0.1, port: ${ports.dlt645Port} }
    params: { address: '000000000161' }
    poll: [{ message: read, params: { di: '02010100' }, everyMs: 250 }]
`,
      );
      gateway = runCli(['gateway', '--config', config, '--log-level', 'warn']);
      procs.push(gateway);
    });

    after(async () => {
      for (const p of procs.reverse()) await p.kill();
      await mosquitto?.dispose();
      await db?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db?.end();
      tmp.cleanup();
    });

    it('one instance SIGKILLed, then none for a while: the edge resends what no instance stored; every frame once', async (t) => {
      const [a, b] = [await startCloud('a'), await startCloud('b')];
      // both instances take a share of the edge's stream before one dies
      await waitFor(
        () => `both instances storing: ${[a, b].map((c) => c.cli.stdout().slice(-2000)).join('\n')}`,
        async () =>
          (await metric(a.metricsPort, 'mqiot_platform_readings_total')) > 20 &&
          (await metric(b.metricsPort, 'mqiot_platform_readings_total')) > 20,
        PROCESS_START_MS,
      );
      await a.cli.kill(); // SIGKILL, and it stays down
      const killedAt = Date.now();
      const inWindow = (r: Stored) => r.ts >= killedAt && r.ts < killedAt + 20_000;
      // The criterion is a time: what is stored 30 s after the kill. So this waits for the clock.
      await waitFor('30 s after the kill', () => Date.now() >= killedAt + 30_000, 60_000);
      const at30 = (await stored()).filter(inWindow).length;

      // no cloud instance at all: Mosquitto accepts the edge's uplinks and, with no subscriber, drops them
      await b.cli.kill();
      const before = (await stored()).length;
      const depth = () => countRows(forwardQueue, 'SELECT COUNT(*) AS n FROM forward');
      await waitFor('uplinks piling up in the edge queue', () => depth() >= 40, 60_000);
      assert.equal((await stored()).length, before, 'nothing stored while no instance runs');
      const c = await startCloud('c');

      // everything eventually: stop the devices; the edge's and the gateway's queues empty only once every
      // data group was acknowledged as stored
      await sim.kill();
      await waitFor(
        () => `the edge's forward queue empty (${depth()}): ${edge.stdout().slice(-3000)}`,
        () => depth() === 0,
        180_000,
      );
      await waitFor(
        () => `the gateway's queue empty: ${gateway.stderr()}`,
        () => countRows(gatewayQueue, "SELECT COUNT(*) AS n FROM outbox WHERE kind = 'data'") === 0,
        60_000,
      );
      const rows = await stored();
      const all = rows.filter(inWindow).length;
      t.diagnostic(`readings of the 20 s after the kill: ${at30} stored 30 s after it, ${all} in the end`);
      t.diagnostic(`stored while no instance ran and after: ${rows.length - before} more readings`);
      assert.ok(all > 100, `the window holds readings (${all})`);
      assert.ok(
        at30 >= 0.9 * all,
        `30 s after the kill the survivor had stored ${at30} of the ${all} readings of the next 20 s`,
      );
      for (const dev of DEVICES) {
        const seqs = rows.filter((r) => r.dev === dev).map((r) => r.seq);
        const max = Math.max(...seqs);
        assert.equal(seqs.length, max + 1, `${dev}: frames 0..${max} stored, none missing`);
      }
      assert.ok(rows.length > before + 40, 'what came while no instance ran is stored');
      const groups = await db.query<{ n: string }>(`SELECT SUM(frames) AS n FROM ${schema}.frame_groups`);
      assert.equal(Number(groups.rows[0]!.n), rows.length, 'each frame in exactly one stored data group');
      const twice = [...telemetry].filter(([, n]) => n > 1);
      assert.deepEqual(twice, [], 'no frame published twice on the live telemetry topics');
      assert.ok(
        (await metric(c.metricsPort, 'mqiot_platform_readings_total')) > 0,
        'the new instance stored',
      );
    });
  });
