// High availability behind an edge, with real processes as a user runs them: Debian's Mosquitto as the
// cloud broker, one PostgreSQL, two `mqiot cloud --broker` instances keeping no session, an `mqiot edge`
// forwarding to Mosquitto, fed by `mqiot sim` devices through a real `mqiot gateway`. The edge's forward
// queue waits for the cloud's `data-ack`, not Mosquitto's PUBACK: one instance SIGKILLed while data
// flows costs nothing (the survivor stores ≥ 90 % of the next 20 s within 30 s), and neither does a
// time with no cloud instance at all (Mosquitto accepts the uplinks and drops them) until one starts.
// In the end every frame is stored exactly once and published once on the live telemetry topics.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { testPostgresUrl } from './helpers.ts';
import { runCli, type RunningCli } from '../support/cli.ts';
import {
  loggedRunning,
  metric,
  pgSchema,
  SITE_DEVICES,
  startCloudInstance,
  startSimulatedSite,
  storedFrames,
  watchTelemetry,
} from '../support/ha-site.ts';
import { Mosquitto } from '../support/mosquitto.ts';
import { freePort } from '../support/ports.ts';
import { makeTempDir } from '../support/temp.ts';
import { PROCESS_START_MS, waitFor } from '../support/wait.ts';

const url = testPostgresUrl('high-availability behind an edge test');
const ENV = { MQIOT_ADMIN_PASSWORD: 'ha-edge-test-pw-1' };

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
    const { schema, schemaUrl } = pgSchema(url, 'mqiot_ha_edge');
    const forwardQueue = join(tmp.dir, 'edge', 'forward-queue.db');
    let gatewayQueue: string;
    let db: pg.Client;
    let mosquitto: Mosquitto;
    const procs: RunningCli[] = [];
    let sim: RunningCli;
    let edge: RunningCli;
    let gateway: RunningCli;
    let telemetry: Map<string, number>;
    const stored = () => storedFrames(db, schema);
    const startCloud = (name: string) =>
      startCloudInstance(procs, { name, brokerUrl: mosquitto.url, postgresUrl: schemaUrl, env: ENV });

    before(async () => {
      db = new pg.Client({ connectionString: url });
      await db.connect();
      await db.query(`CREATE SCHEMA ${schema}`);
      mosquitto = await Mosquitto.start();
      telemetry = await watchTelemetry(mosquitto.url);
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
      await loggedRunning(edge, 'mqiot edge: running');
      ({
        sim,
        gateway,
        queuePath: gatewayQueue,
      } = await startSimulatedSite(procs, {
        dir: tmp.dir,
        gatewayId: 'site-ha-gw',
        brokerUrl: `mqtt://127.0.0.1:${edgePort}`,
      }));
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
      const inWindow = (r: { ts: number }) => r.ts >= killedAt && r.ts < killedAt + 20_000;
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
      for (const dev of SITE_DEVICES) {
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
