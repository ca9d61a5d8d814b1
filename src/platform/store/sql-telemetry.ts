// Telemetry half of the SQL store: readings stored once, latest values, raw and aggregated ranges.
import type { SqlDriver, SqlValue } from './driver.ts';
import { addClause } from './rows.ts';
import { csvField, encodeValue, toFrameRow, toPointRow } from './rows.ts';
import {
  MINUTE_MS,
  ROLLUP_COLUMNS,
  mergePartials,
  rollupDeltas,
  rollupUpsertSuffix,
  type Partial,
} from './rollups.ts';
import type {
  AggregateQuery,
  Bucket,
  FrameQuery,
  FrameRow,
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

const FRAME_COLUMNS = [
  'gateway_id',
  'epoch',
  'device_id',
  'seq',
  'group_seq',
  'frame_index',
  'ts',
  'received_at',
  'contract_id',
  'raw',
  'ok',
  'error',
] as const;
const POINT_COLUMNS = ['device_id', 'name', 'ts', 'seq', 'value_num', 'value_text', 'vtype', 'unit'] as const;
const LATEST_COLUMNS = ['device_id', 'name', 'ts', 'value_num', 'value_text', 'vtype', 'unit'] as const;

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

const DEFAULT_RANGE_LIMIT = 10_000;
const MAX_RANGE_LIMIT = 100_000;

export class SqlTelemetry {
  constructor(private readonly db: SqlDriver) {}

  /**
   * Idempotent by construction: frames are keyed by (gateway, epoch, group seq, frame index) — a resent
   * data group keeps its seq (docs/protocol.md) — and points by (device, point, time, device seq), both
   * inserted with ON CONFLICT DO NOTHING, so a data group the gateway resends after an outage changes
   * nothing. The count of new frames is the answer.
   */
  async insertReadings(
    readings: readonly ReadingInput[],
    marks: readonly StreamMark[] = [],
  ): Promise<number> {
    if (readings.length === 0 && marks.length === 0) return 0;
    const frames: SqlValue[][] = [];
    const points: SqlValue[][] = [];
    // Only the newest value per (device, point) goes to `latest`: PostgreSQL refuses to upsert
    // one row twice in a single statement.
    const newest = new Map<string, SqlValue[]>();
    for (const r of readings) {
      frames.push([
        r.gatewayId,
        r.epoch ?? '',
        r.deviceId,
        r.seq,
        r.groupSeq,
        r.frameIndex,
        r.ts,
        r.receivedAt,
        r.contractId,
        Buffer.from(r.raw),
        r.error ? 0 : 1,
        r.error ? JSON.stringify(r.error) : null,
      ]);
      for (const p of r.points) {
        const v = encodeValue(p.value);
        points.push([r.deviceId, p.name, r.ts, r.seq, v.num, v.text, v.vtype, p.unit ?? null]);
        const key = `${r.deviceId}\u0000${p.name}`;
        const seen = newest.get(key);
        if (!seen || Number(seen[2]) <= r.ts)
          newest.set(key, [r.deviceId, p.name, r.ts, v.num, v.text, v.vtype, p.unit ?? null]);
      }
    }
    const [newFrames] = await this.db.batch([
      { table: 'frames', columns: FRAME_COLUMNS, rows: frames, suffix: 'ON CONFLICT DO NOTHING' },
      {
        table: 'points',
        columns: POINT_COLUMNS,
        rows: points,
        suffix: 'ON CONFLICT DO NOTHING',
        collectInserted: true,
      },
      // Per-minute rollups get exactly the points that were new, in the same transaction.
      (inserted) => [
        {
          table: 'rollups',
          columns: ROLLUP_COLUMNS,
          rows: rollupDeltas(inserted),
          suffix: rollupUpsertSuffix(this.db.dialect),
        },
      ],
      {
        table: 'latest',
        columns: LATEST_COLUMNS,
        rows: [...newest.values()],
        suffix:
          'ON CONFLICT (device_id, name) DO UPDATE SET ts = excluded.ts, value_num = excluded.value_num, ' +
          'value_text = excluded.value_text, vtype = excluded.vtype, unit = excluded.unit ' +
          'WHERE excluded.ts >= latest.ts',
      },
      // the dedup state described by these readings: committed with them or not at all
      ...marks.map(streamMarkStatement),
    ]);
    return newFrames ?? 0;
  }

  async latest(deviceId: string): Promise<PointRow[]> {
    const rows = await this.db.all<Record<string, unknown>>(
      'SELECT * FROM latest WHERE device_id = ? ORDER BY name',
      [deviceId],
    );
    return rows.map(toPointRow);
  }

  async range(q: RangeQuery): Promise<PointRow[]> {
    const limit = Math.min(q.limit ?? DEFAULT_RANGE_LIMIT, MAX_RANGE_LIMIT);
    const params: SqlValue[] = [q.deviceId];
    let where = 'device_id = ?';
    if (q.point) {
      where += ' AND name = ?';
      params.push(q.point);
    }
    where += ' AND ts >= ? AND ts < ?';
    params.push(q.from, q.to, limit);
    const rows = await this.db.all<Record<string, unknown>>(
      `SELECT device_id, name, ts, value_num, value_text, vtype, unit FROM points WHERE ${where} ORDER BY ts, name LIMIT ?`,
      params,
    );
    return rows.map(toPointRow);
  }

  /**
   * Buckets are computed in SQL over the (device, point, time) key. For buckets of whole minutes the
   * grid starts on a minute, full minutes come from the per-minute rollups and only the partial minutes
   * at the edges are read from the points themselves; other bucket sizes read the points directly.
   */
  async aggregate(q: AggregateQuery): Promise<Bucket[]> {
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

  async #rawPartials(q: AggregateQuery, from: number, to: number, origin: number): Promise<Partial[]> {
    if (from >= to) return [];
    const rows = await this.db.all<Record<string, unknown>>(
      `SELECT b.bucket, b.n, b.sm, b.mn, b.mx, b.last_ts,
         (SELECT p.value_num FROM points p WHERE p.device_id = ? AND p.name = ? AND p.ts = b.last_ts
            ORDER BY p.seq DESC LIMIT 1) AS last
       FROM (SELECT CAST((ts - ?) / ? AS INTEGER) AS bucket, COUNT(*) AS n, SUM(value_num) AS sm,
               MIN(value_num) AS mn, MAX(value_num) AS mx, MAX(ts) AS last_ts
             FROM points WHERE device_id = ? AND name = ? AND ts >= ? AND ts < ? AND value_num IS NOT NULL
             GROUP BY 1) b`,
      [q.deviceId, q.point, origin, q.bucketMs, q.deviceId, q.point, from, to],
    );
    return rows.map(toPartial);
  }

  async #rollupPartials(q: AggregateQuery, from: number, to: number, origin: number): Promise<Partial[]> {
    const rows = await this.db.all<Record<string, unknown>>(
      `SELECT b.bucket, b.n, b.sm, b.mn, b.mx, b.last_ts,
         (SELECT r.last FROM rollups r WHERE r.device_id = ? AND r.name = ? AND r.minute = b.last_minute) AS last
       FROM (SELECT CAST((minute * ${MINUTE_MS} - ?) / ? AS INTEGER) AS bucket, SUM(n) AS n, SUM(sum) AS sm,
               MIN(mn) AS mn, MAX(mx) AS mx, MAX(last_ts) AS last_ts, MAX(minute) AS last_minute
             FROM rollups WHERE device_id = ? AND name = ? AND minute >= ? AND minute < ?
             GROUP BY 1) b`,
      [q.deviceId, q.point, origin, q.bucketMs, q.deviceId, q.point, from / MINUTE_MS, to / MINUTE_MS],
    );
    return rows.map(toPartial);
  }

  async frames(q: FrameQuery): Promise<FrameRow[]> {
    const clauses: string[] = [];
    const params: SqlValue[] = [];
    if (q.deviceId) addClause(clauses, params, 'device_id = ?', q.deviceId);
    if (q.gatewayId) addClause(clauses, params, 'gateway_id = ?', q.gatewayId);
    if (q.from !== undefined) addClause(clauses, params, 'ts >= ?', q.from);
    if (q.to !== undefined) addClause(clauses, params, 'ts < ?', q.to);
    if (q.errorsOnly) clauses.push('ok = 0');
    params.push(Math.min(q.limit ?? 100, MAX_RANGE_LIMIT));
    const where = clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
    const rows = await this.db.all<Record<string, unknown>>(
      `SELECT * FROM frames ${where} ORDER BY ts DESC, seq DESC LIMIT ?`,
      params,
    );
    return rows.map(toFrameRow);
  }

  async exportCsv(q: RangeQuery): Promise<string> {
    const rows = await this.range({ ...q, limit: q.limit ?? MAX_RANGE_LIMIT });
    const lines = ['device,point,time,value,unit'];
    for (const r of rows) {
      lines.push([r.deviceId, r.name, new Date(r.ts).toISOString(), r.value, r.unit].map(csvField).join(','));
    }
    return `${lines.join('\n')}\n`;
  }

  async deleteReadingsBefore(before: number): Promise<number> {
    const { changes } = await this.db.run('DELETE FROM points WHERE ts < ?', [before]);
    // Minutes that straddle the limit keep their rollup until they are entirely past it.
    await this.db.run('DELETE FROM rollups WHERE (minute + 1) * ? <= ?', [MINUTE_MS, before]);
    await this.db.run('DELETE FROM frames WHERE ts < ?', [before]);
    return changes;
  }

  async countPoints(deviceId?: string): Promise<number> {
    const rows = deviceId
      ? await this.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM points WHERE device_id = ?', [deviceId])
      : await this.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM points');
    return Number(rows[0]?.n ?? 0);
  }
}
