// High availability end to end, with real processes as a user runs them: Debian's Mosquitto, one
// PostgreSQL, two `mqiot cloud --broker` instances on a shared subscription, `mqiot sim` devices and a
// real `mqiot gateway`. One instance is SIGKILLed while data flows and stays down: the survivor must
// store at least 90 % of the next 20 s within 30 s (Mosquitto does not hand a dead member's share to
// the others; the gateway resends what no instance acknowledged as stored), and in the end every frame
// exactly once; live telemetry never shows a frame twice.
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

const url = testPostgresUrl('high-availability takeover test');

/** Readings per device frame: one row per (device, frame seq), with the frame's time. */
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

if (url)
  describe('takeover: two mqiot cloud instances on Mosquitto and PostgreSQL, one SIGKILLed mid-stream', () => {
    const tmp = makeTempDir('mqiot-ha-');
    const schema = `mqiot_ha_${randomBytes(5).toString('hex')}`;
    const schemaUrl = `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    let db: pg.Client;
    let mosquitto: Mosquitto;
    const procs: RunningCli[] = [];
    const clouds: { cli: RunningCli; metricsPort: number }[] = [];
    let sim: RunningCli;
    let gateway: RunningCli;
    const telemetry = new Map<string, number>();

    /** One entry per stored frame (device, frame seq): the readings are kept in blocks per series and hour. */
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

    const startCloud = async (name: string) => {
      const metricsPort = await freePort();
      const cli = runCli([
        'cloud',
        ...['--broker', mosquitto.url, '--postgres', schemaUrl, '--instance-id', name],
        ...['--http-host', '127.0.0.1', '--http-port', '0', '--metrics-port', String(metricsPort)],
        ...['--unknown-gateways', 'register', '--heartbeat-ms', '5000'],
      ]);
      procs.push(cli);
      await waitFor(
        () => `mqiot cloud ${name} running: ${cli.stderr()}${cli.stdout()}`,
        () => {
          if (cli.child.exitCode !== null) throw new Error(`cloud ${name} exited: ${cli.stderr()}`);
          return logLines(cli.stdout()).some((l) => l.msg === 'mqiot cloud: running');
        },
        PROCESS_START_MS,
      );
      return { cli, metricsPort };
    };

    before(async () => {
      db = new pg.Client({ connectionString: url });
      await db.connect();
      await db.query(`CREATE SCHEMA ${schema}`);
      mosquitto = await Mosquitto.start();
      // one after the other: both create the schema's tables at start
      clouds.push(await startCloud('a'));
      clouds.push(await startCloud('b'));
      const watcher = await connectClient(mosquitto.url, { clientId: 'live-watcher' });
      await watcher.subscribeAsync('mqiot/dev/+/telemetry', { qos: 1 });
      watcher.on('message', (_topic, payload) => {
        const m = JSON.parse(payload.toString()) as { dev: string; seq: number };
        const key = `${m.dev}#${m.seq}`;
        telemetry.set(key, (telemetry.get(key) ?? 0) + 1);
      });
      after(() => watcher.end(true));
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
        `gateway: { id: site-ha }
mqtt: { urls: ['${mosquitto.url}'], reconnectMs: 200 }
batching: { windowMs: 250 }
queue: { path: ./q.db, ackTimeoutMs: 3000 }
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
      const inWindow = (r: Stored) => r.ts >= killedAt && r.ts < killedAt + 20_000;
      // The criterion is a time: what is stored 30 s after the kill. So this waits for the clock.
      await waitFor('30 s after the kill', () => Date.now() >= killedAt + 30_000, 60_000);
      const at30 = (await stored()).filter(inWindow).length;

      // everything eventually: stop the devices, then the gateway's disk queue empties only once every
      // data group was acknowledged as stored
      await sim.kill();
      const queue = new Database(join(tmp.dir, 'q.db'), { readonly: true, fileMustExist: true });
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
      for (const dev of ['pm-1', 'pm-2', 'pm-3', 'meter-161']) {
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
