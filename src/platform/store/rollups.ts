// Per-minute rollups: how a batch updates them, and how aggregates combine rollups with raw edges.
import type { SqlValue } from './driver.ts';
import type { Bucket } from './types.ts';

export const MINUTE_MS = 60_000;
export const ROLLUP_COLUMNS = ['series_id', 'minute', 'n', 'sum', 'mn', 'mx', 'last_ts', 'last'] as const;

/**
 * The per-minute deltas of one series' new readings, sorted by (ts, seq) (src/platform/store/sample-block.ts):
 * rows in ROLLUP_COLUMNS order. Only readings that were really stored reach here (a resent data group is
 * skipped whole), so a minute counts each reading once. Strings have no numeric value and are left out;
 * booleans count as 0/1, as the aggregate queries read them.
 */
export function rollupRows(
  series: number,
  ts: readonly number[],
  values: readonly (number | string | boolean)[],
): SqlValue[][] {
  const rows: SqlValue[][] = [];
  let minute = NaN;
  let n = 0;
  let sum = 0;
  let mn = 0;
  let mx = 0;
  let lastTs = 0;
  let last = 0;
  const flush = () => {
    if (n > 0) rows.push([series, minute, n, sum, mn, mx, lastTs, last]);
  };
  for (let i = 0; i < ts.length; i++) {
    const raw = values[i];
    if (typeof raw === 'string') continue;
    const v = typeof raw === 'boolean' ? (raw ? 1 : 0) : raw!;
    const t = ts[i]!;
    const m = Math.floor(t / MINUTE_MS);
    if (m !== minute) {
      flush();
      minute = m;
      n = 0;
      sum = 0;
      mn = v;
      mx = v;
    }
    n++;
    sum += v;
    if (v < mn) mn = v;
    if (v > mx) mx = v;
    // sorted by (ts, seq): the last one seen is the minute's last
    lastTs = t;
    last = v;
  }
  flush();
  return rows;
}

/** Adds deltas to existing minutes: counts and sums add, extremes widen, the newer "last" wins. */
export function rollupUpsertSuffix(dialect: 'sqlite' | 'postgres'): string {
  const least = dialect === 'sqlite' ? 'MIN' : 'LEAST';
  const greatest = dialect === 'sqlite' ? 'MAX' : 'GREATEST';
  const r = 'minute_rollups';
  return (
    `ON CONFLICT (series_id, minute) DO UPDATE SET n = ${r}.n + excluded.n, sum = ${r}.sum + excluded.sum, ` +
    `mn = ${least}(${r}.mn, excluded.mn), mx = ${greatest}(${r}.mx, excluded.mx), ` +
    `last = CASE WHEN excluded.last_ts >= ${r}.last_ts THEN excluded.last ELSE ${r}.last END, ` +
    `last_ts = ${greatest}(${r}.last_ts, excluded.last_ts)`
  );
}

/** A bucket's partial aggregate (from raw points or from rollups) before combining. */
export interface Partial {
  bucket: number;
  n: number;
  sum: number;
  mn: number;
  mx: number;
  lastTs: number;
  last: number;
}

/** Combines partials of the same bucket: sums and extremes add up, the latest "last" wins. */
export function mergePartials(parts: readonly Partial[], origin: number, bucketMs: number): Bucket[] {
  const byBucket = new Map<number, Partial>();
  for (const p of parts) {
    const seen = byBucket.get(p.bucket);
    if (!seen) {
      byBucket.set(p.bucket, { ...p });
      continue;
    }
    seen.n += p.n;
    seen.sum += p.sum;
    seen.mn = Math.min(seen.mn, p.mn);
    seen.mx = Math.max(seen.mx, p.mx);
    if (p.lastTs >= seen.lastTs) {
      seen.lastTs = p.lastTs;
      seen.last = p.last;
    }
  }
  return [...byBucket.values()]
    .sort((a, b) => a.bucket - b.bucket)
    .map((p) => ({
      start: origin + p.bucket * bucketMs,
      count: p.n,
      min: p.mn,
      max: p.mx,
      avg: p.sum / p.n,
      last: p.last,
    }));
}
