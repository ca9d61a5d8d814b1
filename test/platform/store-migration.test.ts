// A store written by schema version 1 (text-keyed points, one frames row per frame) or 2 (one samples row
// per reading) is migrated at start into version 3, with every reading, rollup, latest value and raw frame
// kept; a newer store is refused.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../src/platform/store/index.ts';

const T0 = Date.UTC(2026, 0, 1);

// The telemetry tables as version 1 wrote them.
const V1_TABLES = `
CREATE TABLE frames (gateway_id TEXT NOT NULL, epoch TEXT NOT NULL, device_id TEXT NOT NULL, seq INTEGER NOT NULL,
  group_seq INTEGER NOT NULL, frame_index INTEGER NOT NULL, ts INTEGER NOT NULL, received_at INTEGER NOT NULL,
  contract_id TEXT, raw BLOB NOT NULL, ok INTEGER NOT NULL, error TEXT,
  PRIMARY KEY (gateway_id, epoch, group_seq, frame_index));
CREATE INDEX frames_device_ts ON frames (device_id, ts);
CREATE INDEX frames_ts ON frames (ts);
CREATE TABLE points (device_id TEXT NOT NULL, name TEXT NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL,
  value_num REAL, value_text TEXT, vtype TEXT NOT NULL, unit TEXT,
  PRIMARY KEY (device_id, name, ts, seq)) WITHOUT ROWID;
CREATE TABLE rollups (device_id TEXT NOT NULL, name TEXT NOT NULL, minute INTEGER NOT NULL, n INTEGER NOT NULL,
  sum REAL NOT NULL, mn REAL NOT NULL, mx REAL NOT NULL, last_ts INTEGER NOT NULL, last REAL,
  PRIMARY KEY (device_id, name, minute)) WITHOUT ROWID;
CREATE TABLE latest (device_id TEXT NOT NULL, name TEXT NOT NULL, ts INTEGER NOT NULL, value_num REAL,
  value_text TEXT, vtype TEXT NOT NULL, unit TEXT, PRIMARY KEY (device_id, name));
`;

/** A version-1 file: 7000 frames in data groups of 50 (more than one page of the copy), 2 points each. */
function writeV1(path: string): void {
  const db = new Database(path);
  db.exec(V1_TABLES);
  const frame = db.prepare('INSERT INTO frames VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const point = db.prepare('INSERT INTO points VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  db.transaction(() => {
    for (let i = 0; i < 7000; i++) {
      const ts = T0 + i * 1000;
      const bad = i === 6999;
      frame.run(
        'gw-1',
        'e1',
        'm-1',
        i,
        Math.floor(i / 50),
        i % 50,
        ts,
        ts + 5,
        'c',
        Buffer.of(i & 0xff),
        bad ? 0 : 1,
        bad ? JSON.stringify({ offset: 1, reason: 'checksum' }) : null,
      );
      if (bad) continue;
      point.run('m-1', 'p', ts, i, i, null, 'number', 'kW');
      point.run('m-1', 'on', ts, i, null, null, i % 2 === 0 ? 'true' : 'false', null);
    }
  })();
  db.prepare('INSERT INTO rollups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
    'm-1',
    'p',
    T0 / 60_000,
    60,
    1770,
    0,
    59,
    T0 + 59_000,
    59,
  );
  db.prepare('INSERT INTO latest VALUES (?, ?, ?, ?, ?, ?, ?)').run(
    'm-1',
    'p',
    T0 + 6998_000,
    6998,
    null,
    'number',
    'kW',
  );
  db.close();
}

describe('store schema migration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mqiot-migrate-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('migrates a version-1 store at start, keeping readings, rollups, latest values and raw frames', async () => {
    const path = join(dir, 'v1.db');
    writeV1(path);
    const store = await openSqliteStore(path);
    try {
      assert.equal(await store.countPoints('m-1'), 2 * 6999);
      assert.deepEqual(
        (await store.range({ deviceId: 'm-1', point: 'p', from: T0, to: T0 + 3000 })).map((p) => p.value),
        [0, 1, 2],
      );
      assert.deepEqual(
        (await store.latest('m-1')).map((p) => [p.name, p.value, p.unit]),
        [['p', 6998, 'kW']],
      );
      const [minute] = await store.aggregate({
        deviceId: 'm-1',
        point: 'p',
        from: T0,
        to: T0 + 60_000,
        bucketMs: 60_000,
      });
      assert.deepEqual(minute, { start: T0, count: 60, min: 0, max: 59, avg: 29.5, last: 59 });
      const frames = await store.frames({ deviceId: 'm-1', limit: 10_000 });
      assert.equal(frames.length, 7000);
      assert.deepEqual(
        (await store.frames({ errorsOnly: true })).map((f) => [
          f.seq,
          f.groupSeq,
          f.frameIndex,
          f.error?.reason,
        ]),
        [[6999, 139, 49, 'checksum']],
      );
      // the dedup record of a store without marks is still its stored groups
      assert.equal((await store.getStreamMark('gw-1', 'e1')).appliedSeq, 139);
      // new readings go in beside the migrated ones; a resend of a migrated group adds nothing
      const reading = (seq: number, groupSeq: number) => ({
        gatewayId: 'gw-1',
        epoch: 'e1',
        groupSeq,
        frameIndex: 0,
        deviceId: 'm-1',
        seq,
        ts: T0 + seq * 1000,
        receivedAt: T0,
        contractId: 'c',
        raw: Uint8Array.of(1),
        points: [{ name: 'p', value: seq }],
      });
      assert.equal(await store.insertReadings([reading(0, 0)]), 0);
      assert.equal(await store.insertReadings([reading(7000, 140)]), 1);
      assert.equal(await store.countPoints('m-1'), 2 * 6999 + 1);
    } finally {
      await store.close();
    }
    // opening it again finds it current
    const again = await openSqliteStore(path);
    assert.equal(await again.countPoints('m-1'), 2 * 6999 + 1);
    await again.close();
  });

  it('migrates a version-2 store (one samples row per reading) into sample blocks at start', async () => {
    const path = join(dir, 'v2.db');
    const db = new Database(path);
    db.exec(`CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (2);
      CREATE TABLE series (id INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL, name TEXT NOT NULL,
        UNIQUE (device_id, name));
      CREATE TABLE samples (series_id INTEGER NOT NULL, ts INTEGER NOT NULL, seq INTEGER NOT NULL, value_num REAL,
        value_text TEXT, vtype TEXT NOT NULL, unit TEXT, PRIMARY KEY (series_id, ts, seq)) WITHOUT ROWID;
      INSERT INTO series (device_id, name) VALUES ('m-2', 'p'), ('m-2', 'state');`);
    const sample = db.prepare('INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?, ?)');
    // 25,200 readings of one series over 7 hours (more than a page of the copy) and a few strings
    db.transaction(() => {
      for (let i = 0; i < 25_200; i++) sample.run(1, T0 + i * 1000, i, i, null, 'n', 'kW');
      for (let i = 0; i < 3; i++) sample.run(2, T0 + i * 1000, i, null, `s${i}`, 's', null);
    })();
    db.close();
    const store = await openSqliteStore(path);
    try {
      assert.equal(await store.countPoints('m-2'), 25_203);
      const hour = await store.range({
        deviceId: 'm-2',
        point: 'p',
        from: T0 + 3_599_000,
        to: T0 + 3_602_000,
      });
      assert.deepEqual(
        hour.map((p) => [p.value, p.unit]),
        [
          [3599, 'kW'],
          [3600, 'kW'],
          [3601, 'kW'],
        ],
      );
      const all = await store.range({
        deviceId: 'm-2',
        point: 'p',
        from: T0,
        to: T0 + 25_200_000,
        limit: 100_000,
      });
      assert.deepEqual(
        all.map((p) => p.value),
        Array.from({ length: 25_200 }, (_, i) => i),
      );
      assert.deepEqual(
        (await store.range({ deviceId: 'm-2', point: 'state', from: T0, to: T0 + 10_000 })).map(
          (p) => p.value,
        ),
        ['s0', 's1', 's2'],
      );
    } finally {
      await store.close();
    }
    const check = new Database(path, { readonly: true });
    const tables = check.prepare("SELECT name FROM sqlite_master WHERE name = 'samples'").all();
    const version = check.prepare('SELECT version FROM schema_version').get() as { version: number };
    check.close();
    assert.deepEqual(tables, [], 'the emptied samples table is dropped');
    assert.equal(version.version, 3);
  });

  it('refuses a store written by a newer version, saying what to do', async () => {
    const path = join(dir, 'future.db');
    await (await openSqliteStore(path)).close();
    const db = new Database(path);
    db.exec('UPDATE schema_version SET version = 99');
    db.close();
    await assert.rejects(
      openSqliteStore(path),
      /schema version 99, newer than this mqiot \(3\): upgrade mqiot/,
    );
  });
});
