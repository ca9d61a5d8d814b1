// Telemetry half of the SQL store: readings stored once, latest values, raw and aggregated ranges.
import type { BatchStatement, SqlDriver, SqlValue } from './driver.ts';
import { addClause } from './rows.ts';
import { csvField, encodeValue, toPointRow } from './rows.ts';
import type { BlockFrame } from './frame-block.ts';
import {
  decodeFrameBlock,
  FRAME_GROUP_COLUMNS,
  frameGroupRow,
  SAMPLE_BLOCK_COLUMNS,
  SAMPLE_BLOCK_TYPES,
  sampleBlockRow,
} from './telemetry-schema.ts';
import {
  MINUTE_MS,
  ROLLUP_COLUMNS,
  mergePartials,
  rollupRows,
  rollupUpsertSuffix,
  type Partial,
} from './rollups.ts';
import {
  appendSampleBlock,
  byHour,
  decodeSampleBlock,
  emptyColumns,
  HOUR_MS,
  sortColumns,
  toColumns,
  type BlockSample,
  type SampleColumns,
} from './sample-block.ts';
import type {
  AggregateQuery,
  Bucket,
  FrameQuery,
  FrameRow,
  InsertedGroup,
  PointRow,
  RangeQuery,
  ReadingInput,
  StreamMark,
} from './types.ts';

/** Raises a stream's marks, never lowers them (CASE works in both dialects, unlike MAX/GREATEST). */
export function streamMarkStatement(m: StreamMark): { sql: string; params: SqlValue[] } {
  return {
    sql: `INSERT INTO gateway_streams (gateway_id, epoch, applied_seq, birth_seq) VALUES (?, ?, ?, ?)
      ON CONFLICT (gateway_id, epoch) DO UPDATE SET
        applied_seq = CASE WHEN gateway_streams.applied_seq IS NULL OR excluded.applied_seq > gateway_streams.applied_seq
          THEN excluded.applied_seq ELSE gateway_streams.applied_seq END,
        birth_seq = CASE WHEN gateway_streams.birth_seq IS NULL OR excluded.birth_seq > gateway_streams.birth_seq
          THEN excluded.birth_seq ELSE gateway_streams.birth_seq END`,
    params: [m.gatewayId, m.epoch, m.appliedSeq, m.birthSeq],
  };
}

const LATEST_COLUMNS = ['series_id', 'ts', 'value_num', 'value_text', 'vtype', 'unit'] as const;
const LATEST_TYPES = ['bigint', 'bigint', 'float8', 'text', 'text', 'text'] as const;
const ROLLUP_TYPES = [
  'bigint',
  'bigint',
  'bigint',
  'float8',
  'float8',
  'float8',
  'bigint',
  'float8',
] as const;
const FRAME_GROUP_TYPES = ['text', 'text', 'bigint', 'bigint', 'bigint', 'int', 'int', 'bytea'] as const;
/** How many frame groups one page of a frames query reads before it checks whether it has enough. */
const FRAME_GROUP_PAGE = 200;

function toPartial(r: Record<string, unknown>): Partial {
  return {
    bucket: Number(r.bucket),
    n: Number(r.n),
    sum: Number(r.sm),
    mn: Number(r.mn),
    mx: Number(r.mx),
    lastTs: Number(r.last_ts),
    last: Number(r.last),
  };
}

type SeriesQuery = AggregateQuery & { series: number };

/** One data group of a batch: its readings, which are also its raw frames (one frame_groups row). */
interface BatchGroup {
  gatewayId: string;
  epoch: string;
  groupSeq: number;
  readings: ReadingInput[];
}

const groupKey = (gatewayId: string, epoch: string, groupSeq: number) =>
  `${gatewayId}\u0000${epoch}\u0000${groupSeq}`;

const DEFAULT_RANGE_LIMIT = 10_000;
const MAX_RANGE_LIMIT = 100_000;

/** A block with fewer readings than this is merged with other small blocks of its hour… */
const SMALL_BLOCK = 512;
/** …once this process has written this many small blocks of one tier there. */
const MERGE_AFTER = 16;

/**
 * Small blocks are merged by size tier (readings 1–15, 16–255, 256–511): sixteen blocks of a tier
 * become one of the next. Merging every small block of the hour instead rewrites the growing merged
 * block again at every merge — at one reading per series per batch (many devices) a reading was
 * rewritten about sixteen times before its block reached SMALL_BLOCK; by tier it is about three.
 */
function tierOf(n: number): number {
  return n < MERGE_AFTER ? 0 : n < MERGE_AFTER * MERGE_AFTER ? 1 : 2;
}
const TIER_BOUNDS: readonly [number, number][] = [
  [1, MERGE_AFTER],
  [MERGE_AFTER, MERGE_AFTER * MERGE_AFTER],
  [MERGE_AFTER * MERGE_AFTER, SMALL_BLOCK],
];

/** Block ids per DELETE: one statement text (padded with ids no row has), prepared once. */
const DELETE_CHUNK = 256;
const DELETE_BLOCKS_SQL = `DELETE FROM sample_blocks WHERE id IN (${Array(DELETE_CHUNK).fill('?').join(', ')})`;

function deleteBlocks(ids: readonly number[]): BatchStatement[] {
  const out: BatchStatement[] = [];
  for (let at = 0; at < ids.length; at += DELETE_CHUNK) {
    const params: SqlValue[] = ids.slice(at, at + DELETE_CHUNK);
    // every block read for the merge must still be there: another instance merging the same hour at
    // the same moment took it otherwise, and this merge would store its readings a second time
    const expectChanges = params.length;
    while (params.length < DELETE_CHUNK) params.push(-1);
    out.push({ sql: DELETE_BLOCKS_SQL, params, expectChanges });
  }
  return out;
}

/**
 * The readings' samples, one set of columns per series; undefined when a (device, point) has no series
 * id yet (the caller creates it and asks again). A device's series map is looked up once per run of its
 * readings.
 */
function seriesColumns(
  groups: readonly BatchGroup[],
  seriesIds: ReadonlyMap<string, ReadonlyMap<string, number>>,
): Map<number, SampleColumns> | undefined {
  const perSeries = new Map<number, SampleColumns>();
  let device: string | undefined;
  let ids: ReadonlyMap<string, number> | undefined;
  for (let g = 0; g < groups.length; g++) {
    const readings = groups[g]!.readings;
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i]!;
      if (r.deviceId !== device) {
        device = r.deviceId;
        ids = seriesIds.get(device);
      }
      const points = r.points;
      for (let j = 0; j < points.length; j++) {
        const p = points[j]!;
        const series = ids?.get(p.name);
        if (series === undefined) return undefined;
        let c = perSeries.get(series);
        if (c === undefined) perSeries.set(series, (c = emptyColumns()));
        c.ts.push(r.ts);
        c.seq.push(r.seq);
        c.values.push(p.value);
        c.units.push(p.unit ?? null);
      }
    }
  }
  return perSeries;
}

/**
 * The rows a batch writes per series: its blocks (one per hour), its rollup deltas and its newest value.
 * Only the newest value per series goes to `latest_values`: PostgreSQL refuses to upsert one row twice
 * in a single statement. `small` is told of every block below SMALL_BLOCK readings.
 */
function seriesRows(
  perSeries: ReadonlyMap<number, SampleColumns>,
  small: (series: number, hour: number, readings: number) => void,
): { blocks: SqlValue[][]; rollups: SqlValue[][]; latest: SqlValue[][] } {
  const blocks: SqlValue[][] = [];
  const rollups: SqlValue[][] = [];
  const latest: SqlValue[][] = [];
  for (const [series, unsorted] of perSeries) {
    const c = sortColumns(unsorted);
    for (const [hour, part] of byHour(c)) {
      blocks.push(sampleBlockRow(series, hour, part));
      if (part.ts.length < SMALL_BLOCK) small(series, hour, part.ts.length);
    }
    for (const row of rollupRows(series, c.ts, c.values)) rollups.push(row);
    const i = c.ts.length - 1;
    const v = encodeValue(c.values[i]!);
    latest.push([series, c.ts[i]!, v.num, v.text, v.vtype, c.units[i]!]);
  }
  return { blocks, rollups, latest };
}

export class SqlTelemetry {
  /** device → point → series id. Series are never deleted, so an id once read stays true. */
  readonly #series = new Map<string, Map<string, number>>();
  /** `series:hour:tier` → small blocks of that tier written there since its last merge. */
  readonly #smallBlocks = new Map<string, number>();
  /** Readings written again by merges of small blocks (write amplification). */
  #merged = 0;

  constructor(private readonly db: SqlDriver) {}

  /**
   * Idempotent by construction: a data group's frames are keyed by (gateway, epoch, group seq) — a resent
   * data group keeps its seq (docs/protocol.md) — and inserted with ON CONFLICT DO NOTHING; only the
   * readings of the groups really inserted go into the sample blocks, rollups and latest values, so a data
   * group that the gateway resends after an outage changes nothing. The count of new frames is the answer.
   */
  async insertReadings(
    readings: readonly ReadingInput[],
    marks: readonly StreamMark[] = [],
    inserted?: (group: InsertedGroup) => void,
  ): Promise<number> {
    if (readings.length === 0 && marks.length === 0) return 0;
    // A data group's readings arrive side by side: a new group starts where the key changes.
    const groups: BatchGroup[] = [];
    const byKey = new Map<string, BatchGroup>();
    let group: BatchGroup | undefined;
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i]!;
      const epoch = r.epoch ?? '';
      if (
        !group ||
        group.groupSeq !== r.groupSeq ||
        group.gatewayId !== r.gatewayId ||
        group.epoch !== epoch
      ) {
        const key = groupKey(r.gatewayId, epoch, r.groupSeq);
        group = byKey.get(key);
        if (!group) {
          groups.push((group = { gatewayId: r.gatewayId, epoch, groupSeq: r.groupSeq, readings: [] }));
          byKey.set(key, group);
        }
      }
      // a reading carries every field of its raw frame: it is the frame, no copy per reading
      group.readings.push(r);
    }
    // Every reading's samples by series, in one pass. A new series is created first, on its own,
    // before the batch: a batch that fails never leaves the cache pointing at an id that was rolled back.
    let columns = seriesColumns(groups, this.#series);
    if (!columns) {
      await this.#createSeries(readings);
      columns = seriesColumns(groups, this.#series)!;
    }
    let newFrames = 0;
    // the groups this insert created: told to the caller once committed
    let created: BatchGroup[] = [];
    await this.db.batch([
      {
        table: 'frame_groups',
        columns: FRAME_GROUP_COLUMNS,
        types: FRAME_GROUP_TYPES,
        rows: groups.map((g) => frameGroupRow(g.gatewayId, g.epoch, g.groupSeq, g.readings)),
        suffix: 'ON CONFLICT DO NOTHING',
        collectInserted: true,
        returning: ['gateway_id', 'epoch', 'group_seq', 'frames'],
      },
      // The readings of the groups that were new: one block per series and hour, the rollup deltas and
      // the newest value per series, all in the same transaction.
      (rows) => {
        const fresh = new Set<string>();
        for (const row of rows) {
          fresh.add(groupKey(String(row[0]), String(row[1]), Number(row[2])));
          newFrames += Number(row[5]);
        }
        created = groups.filter((g) => fresh.has(groupKey(g.gatewayId, g.epoch, g.groupSeq)));
        // a group stored before (by another instance, or an earlier try) is not stored again
        const stored = created.length === groups.length ? columns : seriesColumns(created, this.#series)!;
        const { blocks, rollups, latest } = seriesRows(stored, (series, hour, n) =>
          this.#countSmall(series, hour, tierOf(n)),
        );
        return [
          {
            table: 'sample_blocks',
            columns: SAMPLE_BLOCK_COLUMNS,
            types: SAMPLE_BLOCK_TYPES,
            rows: blocks,
            suffix: '',
          },
          {
            table: 'minute_rollups',
            columns: ROLLUP_COLUMNS,
            types: ROLLUP_TYPES,
            rows: rollups,
            suffix: rollupUpsertSuffix(this.db.dialect),
          },
          {
            table: 'latest_values',
            columns: LATEST_COLUMNS,
            types: LATEST_TYPES,
            rows: latest,
            suffix:
              'ON CONFLICT (series_id) DO UPDATE SET ts = excluded.ts, value_num = excluded.value_num, ' +
              'value_text = excluded.value_text, vtype = excluded.vtype, unit = excluded.unit ' +
              'WHERE excluded.ts >= latest_values.ts',
          },
        ];
      },
      // the dedup state described by these readings: committed with them or not at all
      ...marks.map(streamMarkStatement),
    ]);
    if (inserted)
      for (const { gatewayId, epoch, groupSeq } of created) inserted({ gatewayId, epoch, groupSeq });
    await this.#mergeDue();
    return newFrames;
  }

  #countSmall(series: number, hour: number, tier: number): void {
    const key = `${series}:${hour}:${tier}`;
    // a bound on memory: forgetting counts only delays a merge
    if (this.#smallBlocks.size >= 100_000 && !this.#smallBlocks.has(key)) this.#smallBlocks.clear();
    this.#smallBlocks.set(key, (this.#smallBlocks.get(key) ?? 0) + 1);
  }

  /**
   * Small batches (a quiet site, or many devices: a few readings per series each) make small blocks;
   * once an hour of a series has MERGE_AFTER of one size tier they become one block of the next tier
   * (tierOf), so a range reads few blocks however the readings arrived, and a reading is rewritten
   * about once per tier. Blocks of SMALL_BLOCK readings or more are left as they are. Every merge due
   * goes in one transaction: with thousands of series, a transaction per merge was most of the ingest
   * time. The merges are all-or-nothing: if a block read for one is gone when it is deleted (another
   * instance on the same PostgreSQL merged it meanwhile), none is stored. The readings are committed
   * already; merges that fail are tried again later.
   */
  async #mergeDue(): Promise<void> {
    const due: [number, number, number][] = [];
    for (const [key, count] of this.#smallBlocks) {
      if (count < MERGE_AFTER) continue;
      this.#smallBlocks.delete(key);
      due.push(key.split(':').map(Number) as [number, number, number]);
    }
    if (due.length === 0) return;
    const deleted: number[] = [];
    const merged: { series: number; hour: number; columns: SampleColumns }[] = [];
    for (const [series, hour, tier] of due) {
      const [low, high] = TIER_BOUNDS[tier]!;
      const small = await this.db.all<{ id: number; body: Uint8Array }>(
        'SELECT id, body FROM sample_blocks WHERE series_id = ? AND hour = ? AND n >= ? AND n < ?',
        [series, hour, low, high],
      );
      if (small.length < 2) continue;
      const all = emptyColumns();
      for (const b of small) {
        deleted.push(Number(b.id));
        appendSampleBlock(b.body, all);
      }
      merged.push({ series, hour, columns: sortColumns(all) });
    }
    if (merged.length === 0) return;
    const stored = await this.db
      .batch([
        ...deleteBlocks(deleted),
        {
          table: 'sample_blocks',
          columns: SAMPLE_BLOCK_COLUMNS,
          types: SAMPLE_BLOCK_TYPES,
          rows: merged.map((m) => sampleBlockRow(m.series, m.hour, m.columns)),
          suffix: '',
        },
      ])
      .then(
        () => true,
        () => false,
      );
    if (!stored) return;
    for (const { series, hour, columns } of merged) {
      this.#merged += columns.ts.length;
      if (columns.ts.length < SMALL_BLOCK) this.#countSmall(series, hour, tierOf(columns.ts.length));
    }
  }

  /** Gives every (device, point) of the readings its series id, creating the series it lacks. */
  async #createSeries(readings: readonly ReadingInput[]): Promise<void> {
    // A synchronous pass finds what is missing: a loop that can await allocates an iterator result per
    // step, which per point was a visible share of the ingest's garbage.
    const missing: [string, string][] = [];
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i]!;
      const ids = this.#series.get(r.deviceId);
      for (let j = 0; j < r.points.length; j++) {
        const name = r.points[j]!.name;
        if (!ids?.has(name)) missing.push([r.deviceId, name]);
      }
    }
    for (const [deviceId, name] of missing) {
      if (this.#series.get(deviceId)?.has(name)) continue;
      await this.db.run('INSERT INTO series (device_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING', [
        deviceId,
        name,
      ]);
      const id = await this.#seriesId(deviceId, name);
      if (id === undefined) throw new Error(`series ${deviceId}/${name} was not created`);
    }
  }

  /** The series id of a (device, point), from the cache or the store; undefined when it has none. */
  async #seriesId(deviceId: string, name: string): Promise<number | undefined> {
    const cached = this.#series.get(deviceId)?.get(name);
    if (cached !== undefined) return cached;
    const rows = await this.db.all<{ id: number }>('SELECT id FROM series WHERE device_id = ? AND name = ?', [
      deviceId,
      name,
    ]);
    if (!rows[0]) return undefined;
    const id = Number(rows[0].id);
    let ids = this.#series.get(deviceId);
    if (!ids) this.#series.set(deviceId, (ids = new Map()));
    ids.set(name, id);
    return id;
  }

  async latest(deviceId: string): Promise<PointRow[]> {
    const rows = await this.db.all<Record<string, unknown>>(
      `SELECT s.device_id, s.name, l.ts, l.value_num, l.value_text, l.vtype, l.unit FROM latest_values l
       JOIN series s ON s.id = l.series_id WHERE s.device_id = ? ORDER BY s.name`,
      [deviceId],
    );
    return rows.map(toPointRow);
  }

  async range(q: RangeQuery): Promise<PointRow[]> {
    const limit = Math.min(q.limit ?? DEFAULT_RANGE_LIMIT, MAX_RANGE_LIMIT);
    if (q.point) {
      const series = await this.#seriesId(q.deviceId, q.point);
      if (series === undefined) return [];
      const name = q.point;
      // one series: its device and point are known, so nothing to join per reading
      return (await this.#samples([series], q.from, q.to, limit)).map(({ sample: s }) => ({
        deviceId: q.deviceId,
        name,
        ts: s.ts,
        value: s.value,
        unit: s.unit,
      }));
    }
    const names = new Map<number, string>();
    for (const r of await this.db.all<{ id: number; name: string }>(
      'SELECT id, name FROM series WHERE device_id = ?',
      [q.deviceId],
    ))
      names.set(Number(r.id), String(r.name));
    const found = await this.#samples([...names.keys()], q.from, q.to, limit, (a, b) =>
      names.get(a)! < names.get(b)! ? -1 : names.get(a)! > names.get(b)! ? 1 : 0,
    );
    return found.map(({ series, sample: s }) => ({
      deviceId: q.deviceId,
      name: names.get(series)!,
      ts: s.ts,
      value: s.value,
      unit: s.unit,
    }));
  }

  /**
   * The samples of these series with from <= ts < to, in time order (ties: `bySeries`, then seq), at most
   * `limit`. Blocks never span an hour, so the hours are read in order and the reading stops at the first
   * hour that completes the limit.
   */
  async #samples(
    series: readonly number[],
    from: number,
    to: number,
    limit = Infinity,
    bySeries: (a: number, b: number) => number = (a, b) => a - b,
  ): Promise<{ series: number; sample: BlockSample }[]> {
    if (series.length === 0 || from >= to) return [];
    const list = series.map(() => '?').join(', ');
    const blocks = await this.db.all<{ series_id: number; hour: number; body: Uint8Array }>(
      `SELECT series_id, hour, body FROM sample_blocks
       WHERE series_id IN (${list}) AND hour >= ? AND hour <= ? AND ts_max >= ? AND ts_min < ?
       ORDER BY hour`,
      [...series, Math.floor(from / HOUR_MS), Math.floor((to - 1) / HOUR_MS), from, to],
    );
    const found: { series: number; sample: BlockSample }[] = [];
    for (let i = 0; i < blocks.length;) {
      const hour = Number(blocks[i]!.hour);
      const inHour: { series: number; sample: BlockSample }[] = [];
      for (; i < blocks.length && Number(blocks[i]!.hour) === hour; i++) {
        const id = Number(blocks[i]!.series_id);
        for (const sample of decodeSampleBlock(blocks[i]!.body)) {
          if (sample.ts >= from && sample.ts < to) inHour.push({ series: id, sample });
        }
      }
      // several blocks of an hour (several batches, late readings) interleave in time
      inHour.sort(
        (a, b) => a.sample.ts - b.sample.ts || bySeries(a.series, b.series) || a.sample.seq - b.sample.seq,
      );
      for (const s of inHour) found.push(s);
      if (found.length >= limit) break;
    }
    return found.length > limit ? found.slice(0, limit) : found;
  }

  /**
   * Buckets are computed in SQL over the (device, point, time) key. For buckets of whole minutes the
   * grid starts on a minute, full minutes come from the per-minute rollups and only the partial minutes
   * at the edges are read from the points themselves; other bucket sizes read the points directly.
   */
  async aggregate(query: AggregateQuery): Promise<Bucket[]> {
    const series = await this.#seriesId(query.deviceId, query.point);
    if (series === undefined) return [];
    const q = { ...query, series };
    if (q.bucketMs % MINUTE_MS !== 0) {
      return mergePartials(await this.#rawPartials(q, q.from, q.to, q.from), q.from, q.bucketMs);
    }
    const origin = Math.floor(q.from / MINUTE_MS) * MINUTE_MS;
    const innerFrom = Math.ceil(q.from / MINUTE_MS) * MINUTE_MS;
    const innerTo = Math.floor(q.to / MINUTE_MS) * MINUTE_MS;
    if (innerFrom >= innerTo) {
      return mergePartials(await this.#rawPartials(q, q.from, q.to, origin), origin, q.bucketMs);
    }
    const parts = [
      ...(await this.#rawPartials(q, q.from, innerFrom, origin)),
      ...(await this.#rollupPartials(q, innerFrom, innerTo, origin)),
      ...(await this.#rawPartials(q, innerTo, q.to, origin)),
    ];
    return mergePartials(parts, origin, q.bucketMs);
  }

  async #rawPartials(q: SeriesQuery, from: number, to: number, origin: number): Promise<Partial[]> {
    const buckets = new Map<number, Partial>();
    // in time order: the last sample seen in a bucket is its last
    for (const { sample: s } of await this.#samples([q.series], from, to)) {
      if (s.num === null) continue;
      const bucket = Math.floor((s.ts - origin) / q.bucketMs);
      const b = buckets.get(bucket);
      if (!b) {
        buckets.set(bucket, { bucket, n: 1, sum: s.num, mn: s.num, mx: s.num, lastTs: s.ts, last: s.num });
        continue;
      }
      b.n++;
      b.sum += s.num;
      if (s.num < b.mn) b.mn = s.num;
      if (s.num > b.mx) b.mx = s.num;
      b.lastTs = s.ts;
      b.last = s.num;
    }
    return [...buckets.values()];
  }

  async #rollupPartials(q: SeriesQuery, from: number, to: number, origin: number): Promise<Partial[]> {
    const rows = await this.db.all<Record<string, unknown>>(
      `SELECT b.bucket, b.n, b.sm, b.mn, b.mx, b.last_ts,
         (SELECT r.last FROM minute_rollups r WHERE r.series_id = ? AND r.minute = b.last_minute) AS last
       FROM (SELECT CAST((minute * ${MINUTE_MS} - ?) / ? AS INTEGER) AS bucket, SUM(n) AS n, SUM(sum) AS sm,
               MIN(mn) AS mn, MAX(mx) AS mx, MAX(last_ts) AS last_ts, MAX(minute) AS last_minute
             FROM minute_rollups WHERE series_id = ? AND minute >= ? AND minute < ?
             GROUP BY 1) b`,
      [q.series, origin, q.bucketMs, q.series, from / MINUTE_MS, to / MINUTE_MS],
    );
    return rows.map(toPartial);
  }

  /**
   * Frames newest first. Groups are read a page at a time in order of their newest frame, until the
   * frames found fill the limit and no unread group can hold a newer one.
   */
  async frames(q: FrameQuery): Promise<FrameRow[]> {
    const limit = Math.min(q.limit ?? 100, MAX_RANGE_LIMIT);
    const clauses: string[] = [];
    const params: SqlValue[] = [];
    if (q.gatewayId) addClause(clauses, params, 'gateway_id = ?', q.gatewayId);
    if (q.from !== undefined) addClause(clauses, params, 'ts_max >= ?', q.from);
    if (q.to !== undefined) addClause(clauses, params, 'ts_min < ?', q.to);
    if (q.errorsOnly) clauses.push('errors > 0');
    const where = clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
    const found: FrameRow[] = [];
    for (let offset = 0; ; offset += FRAME_GROUP_PAGE) {
      const groups = await this.db.all<Record<string, unknown>>(
        `SELECT gateway_id, group_seq, ts_max, body FROM frame_groups ${where}
         ORDER BY ts_max DESC, gateway_id, epoch, group_seq LIMIT ${FRAME_GROUP_PAGE} OFFSET ${offset}`,
        params,
      );
      for (const g of groups) {
        for (const f of decodeFrameBlock(g.body as Uint8Array)) {
          if (q.deviceId && f.deviceId !== q.deviceId) continue;
          if (q.from !== undefined && f.ts < q.from) continue;
          if (q.to !== undefined && f.ts >= q.to) continue;
          if (q.errorsOnly && !f.error) continue;
          found.push(toFrameRow(String(g.gateway_id), Number(g.group_seq), f));
        }
      }
      found.sort((a, b) => b.ts - a.ts || b.seq - a.seq);
      const lastTsMax = groups.length ? Number(groups.at(-1)!.ts_max) : -Infinity;
      // every unread group's frames are no newer than lastTsMax
      if (groups.length < FRAME_GROUP_PAGE) break;
      if (found.length >= limit && found[limit - 1]!.ts > lastTsMax) break;
    }
    return found.slice(0, limit);
  }

  async exportCsv(q: RangeQuery): Promise<string> {
    const rows = await this.range({ ...q, limit: q.limit ?? MAX_RANGE_LIMIT });
    const lines = ['device,point,time,value,unit'];
    for (const r of rows) {
      lines.push([r.deviceId, r.name, new Date(r.ts).toISOString(), r.value, r.unit].map(csvField).join(','));
    }
    return `${lines.join('\n')}\n`;
  }

  /**
   * Readings older than `before` go: whole blocks past it are deleted, a block that straddles it is
   * written again with only its newer readings. The count of readings deleted is the answer.
   */
  async deleteReadingsBefore(before: number): Promise<number> {
    const [old] = await this.db.all<{ n: number }>(
      'SELECT COALESCE(SUM(n), 0) AS n FROM sample_blocks WHERE ts_max < ?',
      [before],
    );
    let deleted = Number(old?.n ?? 0);
    const ops: BatchStatement[] = [{ sql: 'DELETE FROM sample_blocks WHERE ts_max < ?', params: [before] }];
    const straddling = await this.db.all<{ id: number; series_id: number; hour: number; body: Uint8Array }>(
      'SELECT id, series_id, hour, body FROM sample_blocks WHERE ts_min < ? AND ts_max >= ?',
      [before, before],
    );
    for (const b of straddling) {
      const all = decodeSampleBlock(b.body);
      const kept = all.filter((s) => s.ts >= before);
      deleted += all.length - kept.length;
      const [, , tsMin, tsMax, n, body] = sampleBlockRow(
        Number(b.series_id),
        Number(b.hour),
        toColumns(kept),
      );
      ops.push({
        sql: 'UPDATE sample_blocks SET ts_min = ?, ts_max = ?, n = ?, body = ? WHERE id = ?',
        params: [tsMin!, tsMax!, n!, body!, Number(b.id)],
      });
    }
    // Minutes that straddle the limit keep their rollup until they are entirely past it.
    ops.push({ sql: 'DELETE FROM minute_rollups WHERE (minute + 1) * ? <= ?', params: [MINUTE_MS, before] });
    // A data group's raw frames go when its newest frame is past the limit.
    ops.push({ sql: 'DELETE FROM frame_groups WHERE ts_max < ?', params: [before] });
    await this.db.batch(ops);
    return deleted;
  }

  mergedReadings(): number {
    return this.#merged;
  }

  async countPoints(deviceId?: string): Promise<number> {
    const rows = deviceId
      ? await this.db.all<{ n: number }>(
          'SELECT COALESCE(SUM(b.n), 0) AS n FROM sample_blocks b JOIN series s ON s.id = b.series_id WHERE s.device_id = ?',
          [deviceId],
        )
      : await this.db.all<{ n: number }>('SELECT COALESCE(SUM(n), 0) AS n FROM sample_blocks');
    return Number(rows[0]?.n ?? 0);
  }
}

/** A frame of a stored block, as the API shows it. */
function toFrameRow(gatewayId: string, groupSeq: number, f: BlockFrame): FrameRow {
  return {
    gatewayId,
    deviceId: f.deviceId,
    seq: f.seq,
    groupSeq,
    frameIndex: f.frameIndex,
    ts: f.ts,
    receivedAt: f.receivedAt,
    contractId: f.contractId,
    rawHex: Buffer.from(f.raw).toString('hex'),
    ok: !f.error,
    error: f.error,
  };
}
