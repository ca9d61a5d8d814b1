// Crash test, black box: `mqiot up` is killed (SIGKILL) while a gateway streams data groups, and
// restarted on the same data directory. The gateway (a raw MQTT.js client with the gateway's outbox rule:
// keep every message until its PUBACK) sends again whatever was not acknowledged. Every data group that
// was ever acknowledged must be in the SQLite file, each exactly once.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { encodeEnvelope } from '../../src/protocol/envelope.ts';
import { issueGatewayCredentials, startUp, type RunningUp } from '../support/cli.ts';
import { PROCESS_START_MS, waitFor } from '../support/wait.ts';

const GW = 'crash-gw';
const UP = `mqiot/gw/${GW}/up`;
const GROUPS = 400; // data groups seq 2..GROUPS+1 (seq 1 is the birth)
const KILL_AFTER_ACKS = 30;
const KILLS = 3;
// a DL/T 645 reading (energy 0.26 kWh), as in up-cli.test.ts
const FRAME = Uint8Array.from(Buffer.from('6861010000000068910833333433593333338A16', 'hex'));

const envelope = (seq: number): Buffer =>
  seq === 1
    ? encodeEnvelope({
        v: 1,
        k: 'birth',
        gw: GW,
        seq,
        ts: Date.now(),
        epoch: 'e1',
        devices: [{ dev: 'crash-meter', c: 'dlt645-2007' }],
      })
    : encodeEnvelope({
        v: 1,
        k: 'data',
        gw: GW,
        seq,
        ts: Date.now(),
        frames: [{ dev: 'crash-meter', c: 'dlt645-2007', ts: Date.now(), seq, raw: FRAME }],
      });

describe('mqiot up killed mid-stream loses no acknowledged data group', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mqiot-crash-'));
  const running: RunningUp[] = [];
  const clients: MqttClient[] = [];
  let over = false; // set by the cleanup: a body that timed out must not start another `mqiot up`
  after(async () => {
    over = true;
    for (const c of clients) c.end(true);
    for (const up of running) await up.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'every acknowledged group is stored exactly once after repeated SIGKILL and restart',
    // KILLS + 1 starts of `mqiot up`, each bounded by PROCESS_START_MS on a busy machine
    { timeout: (KILLS + 2) * PROCESS_START_MS },
    async () => {
      // the gateway's outbox: seq → payload, removed only on a successful PUBACK
      const outbox = new Map<number, Buffer>();
      for (let seq = 1; seq <= GROUPS + 1; seq++) outbox.set(seq, envelope(seq));
      const acked = new Set<number>();
      let onAck = (): void => {};

      // the gateway logs in with the credentials the platform issued (mqiot up's default is no anonymous)
      const login = await issueGatewayCredentials(dir, GW);
      const connect = async (url: string): Promise<MqttClient> => {
        const c = await mqtt.connectAsync(url, {
          protocolVersion: 5,
          clientId: `mqiot-gw-${GW}`,
          ...login,
          reconnectPeriod: 0,
          connectTimeout: 10_000,
        });
        clients.push(c);
        c.on('error', () => {});
        return c;
      };
      let unacknowledged = 0;
      const send = (c: MqttClient, seq: number): void => {
        unacknowledged++;
        c.publish(UP, outbox.get(seq)!, { qos: 1 }, (err) => {
          unacknowledged--;
          if (err) return; // kept: sent again on the next connection
          outbox.delete(seq);
          acked.add(seq);
          onAck();
        });
      };

      // 1. stream; kill the platform mid-stream each time KILL_AFTER_ACKS more groups are acknowledged,
      //    restart it on the same data directory, and let the gateway send its outbox again, in order
      const ackedBeforeKill = new Set<number>();
      for (let round = 0; !over; round++) {
        const up = await startUp(dir);
        running.push(up);
        const c = await connect(up.mqttUrl);
        unacknowledged = 0; // a new connection: what the old one had in flight is in the outbox again
        const last = round === KILLS;
        const target = acked.size + KILL_AFTER_ACKS;
        let killed = false;
        const done = new Promise<void>((resolve) => {
          onAck = () => {
            if (last ? outbox.size === 0 : !killed && acked.size >= target) {
              killed = !last;
              if (killed) up.child.kill('SIGKILL');
              resolve();
            }
          };
        });
        for (const seq of [...outbox.keys()].sort((a, b) => a - b)) {
          if (killed) break;
          // A window of 8 unacknowledged groups, as a gateway keeps: the stream is still going when
          // the acknowledgements reach the kill's target.
          await waitFor('room in the window', () => killed || unacknowledged < 8);
          if (killed) break;
          send(c, seq);
        }
        await done;
        if (last) {
          await c.endAsync();
          await up.stop();
          break;
        }
        for (const seq of acked) ackedBeforeKill.add(seq);
        await up.exited;
        c.end(true);
        assert.ok(outbox.size > 0, 'the kill came before the stream was through');
      }

      // 3. the store: every group once, every acknowledged-before-the-kill group among them
      const db = new Database(join(dir, 'platform.db'), { readonly: true });
      try {
        const rows = db
          .prepare('SELECT group_seq AS seq, frames AS n FROM frame_groups WHERE gateway_id = ?')
          .all(GW) as { seq: number; n: number }[];
        const stored = new Map(rows.map((r) => [Number(r.seq), r.n]));
        for (const seq of ackedBeforeKill) {
          if (seq === 1) continue; // the birth
          assert.equal(
            stored.get(seq),
            1,
            `group ${seq} was acknowledged before the kill but is not stored once`,
          );
        }
        for (let seq = 2; seq <= GROUPS + 1; seq++) assert.equal(stored.get(seq), 1, `group ${seq}`);
        assert.equal(stored.size, GROUPS);
        const points = db
          .prepare(
            'SELECT SUM(b.n) AS n FROM sample_blocks b JOIN series s ON s.id = b.series_id WHERE s.device_id = ?',
          )
          .get('crash-meter') as { n: number };
        assert.equal(Number(points.n), GROUPS);
      } finally {
        db.close();
      }
    },
  );
});
