// Per-minute rollups: how a batch updates them, and how aggregates combine rollups with raw edges.
import type { SqlValue } from './driver.ts';
import type { Bucket } from './types.ts';

export const MINUTE_MS = 60_000;
export const ROLLUP_COLUMNS = ['series_id', 'minute', 'n', 'sum', 'mn', 'mx', 'last_ts', 'last'] as const;

interface Delta {
  series: number;
  minute: number;
  n: number;
  sum: number;
  mn: number;
  mx: number;
  lastTs: number;
  lastSeq: number;
  last: number;
}

/**
 * Per-minute deltas of the readings a batch really inserted (rows in the samples table's column order:
 * series_id, ts, seq, value_num, ...). Resent readings are skipped by the samples key, so they never
 * reach the rollups: a minute counts each reading once.
 */
export function rollupDeltas(insertedSamples: readonly SqlValue[][]): SqlValue[][] {
  const deltas = new Map<string, Delta>();
  for (const [series, ts, seq, value] of insertedSamples) {
    if (value === null || value === undefined) continue;
    const v = Number(value);
    const t = Number(ts);
    const minute = Math.floor(t / MINUTE_MS);
    const key = `${series}:${minute}`;
    const d = deltas.get(key);
    if (!d) {
      deltas.set(key, {
        series: Number(series),
        minute,
        n: 1,
        sum: v,
        mn: v,
        mx: v,
        lastTs: t,
        lastSeq: Number(seq),
        last: v,
      });
      continue;
    }
    d.n += 1;
    d.sum += v;
    if (v < d.mn) d.mn = v;
    if (v > d.mx) d.mx = v;
    if (t > d.lastTs || (t === d.lastTs && Number(seq) > d.lastSeq)) {
      d.lastTs = t;
      d.lastSeq = Number(seq);
      d.last = v;
    }
  }
  return [...deltas.values()].map((d) => [d.series, d.minute, d.n, d.sum, d.mn, d.mx, d.lastTs, d.last]);
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
