// Telemetry tables (schema version 2) and the migration of a version-1 store into them.
//
// Version 2 is shaped for ingest: a (device, point) pair gets an integer series id once, readings are
// keyed by (series, time, device seq) in a clustered b-tree, and the raw frames of a data group are kept
// as one row per group (an encoded block), not one indexed row per frame.
import type { SqlDriver } from './driver.ts';
import { decodeFrameBlock, encodeFrameBlock, type BlockFrame, type FrameToStore } from './frame-block.ts';
import { dialectTypes, type DialectTypes } from './dialect-types.ts';
import { emptyColumns, encodeSampleBlock, HOUR_MS, type SampleColumns } from './sample-block.ts';
import { decodeValue } from './rows.ts';

export const SCHEMA_VERSION = 3;

/** Version 2's one row per reading: created only to migrate a version-1 store through it. */
function samplesTableSql(t: DialectTypes): string {
  return `CREATE TABLE IF NOT EXISTS samples (
  series_id ${t.bigint} NOT NULL,
  ts ${t.bigint} NOT NULL,
  seq ${t.bigint} NOT NULL,
  value_num ${t.real},
  value_text TEXT,
  vtype TEXT NOT NULL,
  unit TEXT,
  PRIMARY KEY (series_id, ts, seq) ${t.pointsKeyInclude}
) ${t.pointsTableOptions}`;
}

export function telemetrySchemaSql(t: DialectTypes): string {
  return `
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);

-- One row per (device, point): the integer the readings, rollups and latest values are keyed by.
CREATE TABLE IF NOT EXISTS series (
  id ${t.serial},
  device_id TEXT NOT NULL,
  name TEXT NOT NULL,
  UNIQUE (device_id, name)
);

-- The readings of one series within one hour, a block per batch (src/platform/store/sample-block.ts):
-- a range of a series reads the blocks of its hours through the index and decodes them.
CREATE TABLE IF NOT EXISTS sample_blocks (
  id ${t.rowId},
  series_id ${t.bigint} NOT NULL,
  hour ${t.bigint} NOT NULL,
  ts_min ${t.bigint} NOT NULL,
  ts_max ${t.bigint} NOT NULL,
  n INTEGER NOT NULL,
  body ${t.blob} NOT NULL
);
CREATE INDEX IF NOT EXISTS sample_blocks_series ON sample_blocks (series_id, hour);

-- Per-minute rollups of numeric readings, added to with each batch's new readings, so aggregates over
-- long ranges read one row per minute instead of every reading.
CREATE TABLE IF NOT EXISTS minute_rollups (
  series_id ${t.bigint} NOT NULL,
  minute ${t.bigint} NOT NULL,
  n ${t.bigint} NOT NULL,
  sum ${t.real} NOT NULL,
  mn ${t.real} NOT NULL,
  mx ${t.real} NOT NULL,
  last_ts ${t.bigint} NOT NULL,
  last ${t.real},
  PRIMARY KEY (series_id, minute)
) ${t.pointsTableOptions};

CREATE TABLE IF NOT EXISTS latest_values (
  series_id ${t.bigint} PRIMARY KEY,
  ts ${t.bigint} NOT NULL,
  value_num ${t.real},
  value_text TEXT,
  vtype TEXT NOT NULL,
  unit TEXT
);

-- The raw frames of one data group, as received, in one encoded block (src/platform/store/frame-block.ts).
-- The key is the group's identity on the wire: a resent group is not stored twice.
CREATE TABLE IF NOT EXISTS frame_groups (
  gateway_id TEXT NOT NULL,
  epoch TEXT NOT NULL,
  group_seq ${t.bigint} NOT NULL,
  ts_min ${t.bigint} NOT NULL,
  ts_max ${t.bigint} NOT NULL,
  frames INTEGER NOT NULL,
  errors INTEGER NOT NULL,
  body ${t.blob} NOT NULL,
  PRIMARY KEY (gateway_id, epoch, group_seq)
);
CREATE INDEX IF NOT EXISTS frame_groups_ts ON frame_groups (ts_max);
`;
}

async function tableExists(db: SqlDriver, table: string): Promise<boolean> {
  try {
    await db.all(`SELECT 1 FROM ${table} LIMIT 1`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Brings the store to SCHEMA_VERSION; run after the tables of the current version exist. A version-1
 * store (text-keyed `points`, one `frames` row per frame) is copied into the version-2 tables, then its
 * old tables are dropped. Every copy is idempotent, so a migration interrupted half way is finished by
 * the next start. A store newer than this program is refused.
 */
export async function migrateTelemetry(db: SqlDriver): Promise<void> {
  const rows = await db.all<{ version: number }>('SELECT version FROM schema_version');
  const version = rows.length ? Math.max(...rows.map((r) => Number(r.version))) : 0;
  if (version > SCHEMA_VERSION) {
    throw new Error(
      `this store has schema version ${version}, newer than this mqiot (${SCHEMA_VERSION}): upgrade mqiot to open it`,
    );
  }
  if (version === SCHEMA_VERSION) return;
  if (await tableExists(db, 'points')) {
    // version 1 → 2 fills version 2's samples table, which the next step turns into blocks
    await db.exec(samplesTableSql(dialectTypes(db.dialect)));
    await copyPoints(db);
  }
  if (await tableExists(db, 'samples')) await copySamples(db);
  if (await tableExists(db, 'frames')) await copyFrames(db);
  await db.run('DELETE FROM schema_version');
  await db.run('INSERT INTO schema_version (version) VALUES (?)', [SCHEMA_VERSION]);
}

async function copyPoints(db: SqlDriver): Promise<void> {
  const hasRollups = await tableExists(db, 'rollups');
  const hasLatest = await tableExists(db, 'latest');
  const join = (alias: string) =>
    `JOIN series s ON s.device_id = ${alias}.device_id AND s.name = ${alias}.name`;
  // `WHERE true`: SQLite needs it to tell an INSERT … SELECT's ON CONFLICT from a join constraint.
  await db.batch([
    {
      sql: `INSERT INTO series (device_id, name) SELECT DISTINCT device_id, name FROM points WHERE true
        ON CONFLICT DO NOTHING`,
      params: [],
    },
    ...(hasLatest
      ? [
          {
            sql: `INSERT INTO series (device_id, name) SELECT DISTINCT device_id, name FROM latest WHERE true
              ON CONFLICT DO NOTHING`,
            params: [],
          },
        ]
      : []),
    {
      sql: `INSERT INTO samples (series_id, ts, seq, value_num, value_text, vtype, unit)
        SELECT s.id, p.ts, p.seq, p.value_num, p.value_text, p.vtype, p.unit FROM points p ${join('p')} WHERE true
        ON CONFLICT DO NOTHING`,
      params: [],
    },
    ...(hasRollups
      ? [
          {
            sql: `INSERT INTO minute_rollups (series_id, minute, n, sum, mn, mx, last_ts, last)
              SELECT s.id, r.minute, r.n, r.sum, r.mn, r.mx, r.last_ts, r.last FROM rollups r ${join('r')} WHERE true
              ON CONFLICT DO NOTHING`,
            params: [],
          },
          { sql: 'DROP TABLE rollups', params: [] },
        ]
      : []),
    ...(hasLatest
      ? [
          {
            sql: `INSERT INTO latest_values (series_id, ts, value_num, value_text, vtype, unit)
              SELECT s.id, l.ts, l.value_num, l.value_text, l.vtype, l.unit FROM latest l ${join('l')} WHERE true
              ON CONFLICT DO NOTHING`,
            params: [],
          },
          { sql: 'DROP TABLE latest', params: [] },
        ]
      : []),
    { sql: 'DROP TABLE points', params: [] },
  ]);
}

export const SAMPLE_BLOCK_COLUMNS = ['series_id', 'hour', 'ts_min', 'ts_max', 'n', 'body'] as const;
export const SAMPLE_BLOCK_TYPES = ['bigint', 'bigint', 'bigint', 'bigint', 'int', 'bytea'] as const;

/** The sample_blocks row of one series' sorted samples within one hour. */
export function sampleBlockRow(series: number, hour: number, c: SampleColumns): (number | Buffer)[] {
  return [series, hour, c.ts[0]!, c.ts.at(-1)!, c.ts.length, encodeSampleBlock(c)];
}

/**
 * Version 2's one row per reading → one block per series and hour, a page at a time in key order. Each
 * page's blocks are written in the same transaction as the delete of the rows they hold, so an
 * interrupted migration goes on where it stopped at the next start; the emptied table is dropped.
 */
async function copySamples(db: SqlDriver): Promise<void> {
  const PAGE = 20_000;
  const select = 'SELECT series_id, ts, seq, value_num, value_text, vtype, unit FROM samples';
  const hourOf = (r: Record<string, unknown>) => Math.floor(Number(r.ts) / HOUR_MS);
  const same = (a: Record<string, unknown>, b: Record<string, unknown>) =>
    Number(a.series_id) === Number(b.series_id) && hourOf(a) === hourOf(b);
  for (;;) {
    let page = await db.all<Record<string, unknown>>(`${select} ORDER BY series_id, ts, seq LIMIT ${PAGE}`);
    if (page.length === 0) break;
    if (page.length === PAGE) {
      // the page's last (series, hour) may go on in the next page: it waits for a page of its own
      const last = page.at(-1)!;
      const whole = page.filter((r) => !same(r, last));
      page =
        whole.length > 0
          ? whole
          : await db.all<Record<string, unknown>>(
              `${select} WHERE series_id = ? AND ts >= ? AND ts < ? ORDER BY ts, seq`,
              [Number(last.series_id), hourOf(last) * HOUR_MS, (hourOf(last) + 1) * HOUR_MS],
            );
    }
    const rows: (number | Buffer)[][] = [];
    let columns = emptyColumns();
    for (let i = 0; i < page.length; i++) {
      const r = page[i]!;
      columns.ts.push(Number(r.ts));
      columns.seq.push(Number(r.seq));
      const num = r.value_num === null ? null : Number(r.value_num);
      columns.values.push(
        decodeValue(num, r.value_text === null ? null : String(r.value_text), String(r.vtype)),
      );
      columns.units.push(r.unit === null ? null : String(r.unit));
      const next = page[i + 1];
      if (next && same(r, next)) continue;
      rows.push(sampleBlockRow(Number(r.series_id), hourOf(r), columns));
      columns = emptyColumns();
    }
    const through = page.at(-1)!;
    const [series, ts, seq] = [Number(through.series_id), Number(through.ts), Number(through.seq)];
    await db.batch([
      { table: 'sample_blocks', columns: SAMPLE_BLOCK_COLUMNS, types: SAMPLE_BLOCK_TYPES, rows, suffix: '' },
      {
        sql: 'DELETE FROM samples WHERE series_id < ? OR (series_id = ? AND (ts < ? OR (ts = ? AND seq <= ?)))',
        params: [series, series, ts, ts, seq],
      },
    ]);
  }
  await db.exec('DROP TABLE samples');
}

/** One frame_groups row per data group of the old `frames` table, read in key order a page at a time. */
async function copyFrames(db: SqlDriver): Promise<void> {
  const PAGE = 5000;
  let after: [string, string, number, number] | undefined;
  let carry: { key: [string, string, number]; frames: BlockFrame[] } | undefined;
  const groups: { key: [string, string, number]; frames: BlockFrame[] }[] = [];
  const flush = async () => {
    if (groups.length === 0) return;
    await db.batch([
      {
        table: 'frame_groups',
        columns: FRAME_GROUP_COLUMNS,
        rows: groups.map((g) => frameGroupRow(g.key[0], g.key[1], g.key[2], g.frames)),
        suffix: 'ON CONFLICT DO NOTHING',
      },
    ]);
    groups.length = 0;
  };
  for (;;) {
    const page = await db.all<Record<string, unknown>>(
      `SELECT * FROM frames ${after ? 'WHERE (gateway_id, epoch, group_seq, frame_index) > (?, ?, ?, ?)' : ''}
       ORDER BY gateway_id, epoch, group_seq, frame_index LIMIT ${PAGE}`,
      after ?? [],
    );
    for (const r of page) {
      const key: [string, string, number] = [String(r.gateway_id), String(r.epoch), Number(r.group_seq)];
      if (!carry || carry.key.some((v, i) => v !== key[i])) {
        if (carry) groups.push(carry);
        carry = { key, frames: [] };
      }
      carry.frames.push({
        deviceId: String(r.device_id),
        seq: Number(r.seq),
        frameIndex: Number(r.frame_index),
        ts: Number(r.ts),
        receivedAt: Number(r.received_at),
        contractId: r.contract_id === null ? null : String(r.contract_id),
        raw: new Uint8Array(r.raw as Uint8Array),
        error: r.error ? (JSON.parse(String(r.error)) as BlockFrame['error']) : null,
      });
    }
    await flush();
    const last = page.at(-1);
    if (!last || page.length < PAGE) break;
    after = [String(last.gateway_id), String(last.epoch), Number(last.group_seq), Number(last.frame_index)];
  }
  if (carry) groups.push(carry);
  await flush();
  await db.exec('DROP TABLE frames');
}

export const FRAME_GROUP_COLUMNS = [
  'gateway_id',
  'epoch',
  'group_seq',
  'ts_min',
  'ts_max',
  'frames',
  'errors',
  'body',
] as const;

export function frameGroupRow(
  gatewayId: string,
  epoch: string,
  groupSeq: number,
  frames: readonly FrameToStore[],
): (string | number | Buffer)[] {
  let tsMin = Infinity;
  let tsMax = -Infinity;
  let errors = 0;
  for (const f of frames) {
    if (f.ts < tsMin) tsMin = f.ts;
    if (f.ts > tsMax) tsMax = f.ts;
    if (f.error) errors++;
  }
  return [gatewayId, epoch, groupSeq, tsMin, tsMax, frames.length, errors, encodeFrameBlock(frames)];
}

export { decodeFrameBlock };
