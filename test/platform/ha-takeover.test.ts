// High availability end to end, with real processes as a user runs them: Debian's Mosquitto, one
// PostgreSQL, two `mqiot cloud --broker` instances on a shared subscription, `mqiot sim` devices and a
// real `mqiot gateway`. One instance is SIGKILLed while data flows and stays down: the survivor must
// store at least 90 % of the next 20 s within 30 s (Mosquitto does not hand a dead member's share to
// the others; the gateway resends what no instance acknowledged as stored), and in the end every frame
// exactly once; live telemetry never shows a frame twice.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { testPostgresUrl } from './helpers.ts';
import type { RunningCli } from '../support/cli.ts';
import {
  metric,
  pgSchema,
  SITE_DEVICES,
  startCloudInstance,
  startSimulatedSite,
  storedFrames,
  watchTelemetry,
} from '../support/ha-site.ts';
import { Mosquitto } from '../support/mosquitto.ts';
import { makeTempDir } from '../support/temp.ts';
import { PROCESS_START_MS, waitFor } from '../support/wait.ts';

const url = testPostgresUrl('high-availability takeover test');

if (url)
  describe('takeover: two mqiot cloud instances on Mosquitto and PostgreSQL, one SIGKILLed mid-stream', () => {
    const tmp = makeTempDir('mqiot-ha-');
    const { schema, schemaUrl } = pgSchema(url, 'mqiot_ha');
    let db: pg.Client;
    let mosquitto: Mosquitto;
    const procs: RunningCli[] = [];
    const clouds: { cli: RunningCli; metricsPort: number }[] = [];
    let sim: RunningCli;
    let gateway: RunningCli;
    let queuePath: string;
    let telemetry: Map<string, number>;
    const stored = () => storedFrames(db, schema);
    const startCloud = (name: string) =>
      startCloudInstance(procs, { name, brokerUrl: mosquitto.url, postgresUrl: schemaUrl });

    before(async () => {
      db = new pg.Client({ connectionString: url });
      await db.connect();
      await db.query(`CREATE SCHEMA ${schema}`);
      mosquitto = await Mosquitto.start();
      // one after the other: both create the schema's tables at start
      clouds.push(await startCloud('a'));
      clouds.push(await startCloud('b'));
      telemetry = await watchTelemetry(mosquitto.url);
      ({ sim, gateway, queuePath } = await startSimulatedSite(procs, {
        dir: tmp.dir,
        gatewayId: 'site-ha',
        brokerUrl: mosquitto.url,
        queue: 'ackTimeoutMs: 3000',
      }));
    });

    after(async () => {
      for (const p of procs.reverse()) await p.kill();
      await mosquitto?.dispose();
      await db?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db?.end();
      tmp.cleanup();
    });

    it('the survivor stores ≥ 90 % of the next 20 s within 30 s, and in the end every frame exactly once', async (t) => {
      // both instances take a share of the stream before one dies
      await waitFor(
        () => `both instances storing: ${clouds.map((c) => c.cli.stdout().slice(-2000)).join('\n')}`,
        async () =>
          (await metric(clouds[0]!.metricsPort, 'mqiot_platform_readings_total')) > 20 &&
          (await metric(clouds[1]!.metricsPort, 'mqiot_platform_readings_total')) > 20,
        PROCESS_START_MS,
      );
      const [victim, survivor] = clouds as [(typeof clouds)[0], (typeof clouds)[0]];
      await victim.cli.kill(); // SIGKILL, and it stays down
      const killedAt = Date.now();
      const inWindow = (r: { ts: number }) => r.ts >= killedAt && r.ts < killedAt + 20_000;
      // The criterion is a time: what is stored 30 s after the kill. So this waits for the clock.
      await waitFor('30 s after the kill', () => Date.now() >= killedAt + 30_000, 60_000);
      const at30 = (await stored()).filter(inWindow).length;

      // everything eventually: stop the devices, then the gateway's disk queue empties only once every
      // data group was acknowledged as stored
      await sim.kill();
      const queue = new Database(queuePath, { readonly: true, fileMustExist: true });
      try {
        await waitFor(
          () => `the gateway's disk queue empty: ${gateway.stderr()}${gateway.stdout().slice(-3000)}`,
          () =>
            queue.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'data'").get()!
              .n === 0,
          120_000,
        );
      } finally {
        queue.close();
      }
      const rows = await stored();
      const all = rows.filter(inWindow).length;
      t.diagnostic(`readings of the 20 s after the kill: ${at30} stored 30 s after it, ${all} in the end`);
      assert.ok(all > 100, `the window holds readings (${all})`);
      assert.ok(
        at30 >= 0.9 * all,
        `30 s after the kill the survivor had stored ${at30} of the ${all} readings of the next 20 s`,
      );
      // every frame of every device, from its first (seq 0) to its last, once
      for (const dev of SITE_DEVICES) {
        const seqs = rows.filter((r) => r.dev === dev).map((r) => r.seq);
        const max = Math.max(...seqs);
        assert.equal(seqs.length, max + 1, `${dev}: frames 0..${max} stored, none missing`);
      }
      const groups = await db.query<{ n: string }>(`SELECT SUM(frames) AS n FROM ${schema}.frame_groups`);
      assert.equal(Number(groups.rows[0]!.n), rows.length, 'each frame in exactly one stored data group');
      const twice = [...telemetry].filter(([, n]) => n > 1);
      assert.deepEqual(twice, [], 'no frame published twice on the live telemetry topics');
      assert.ok(
        (await metric(survivor.metricsPort, 'mqiot_platform_readings_total')) > 0,
        'the survivor is still storing',
      );
    });
  });
