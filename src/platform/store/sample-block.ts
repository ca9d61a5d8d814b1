// The readings of one series within one hour, as one stored block: a few rows per batch instead of one
// b-tree entry per reading is what lets the store keep up with ingest (docs/architecture.md, "The
// telemetry store").
//
// Layout (little-endian): version byte (1), 3 bytes zero, uint32 count n, then n float64 times, n float64
// device seqs, n float64 numeric values, n bytes of value type, then UTF-8 JSON `{ "u": unit, "t": texts }`
// — `u` one unit for every sample or an array of n (null for none), `t` the string values in order.
import type { PointValue } from './types.ts';

export const HOUR_MS = 3_600_000;
const VERSION = 1;
const HEADER = 8;
/** Value types, as stored in the vtype bytes (and as `rows.ts` names them in the rollup/latest tables). */
const NUMBER = 0;
const BOOLEAN = 1;
const STRING = 2;

/** A series' samples, column by column, sorted by (ts, seq) with no (ts, seq) twice. */
export interface SampleColumns {
  ts: number[];
  seq: number[];
  values: PointValue[];
  units: (string | null)[];
}

export function emptyColumns(): SampleColumns {
  return { ts: [], seq: [], values: [], units: [] };
}

/**
 * Sorts the columns by (ts, seq) in place when they are not already (the usual case is a run of readings
 * in arrival order, which is sorted) and drops a sample whose (ts, seq) came before: the same reading
 * twice in one batch is stored once.
 */
export function sortColumns(c: SampleColumns): SampleColumns {
  const n = c.ts.length;
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) {
    if (c.ts[i]! < c.ts[i - 1]! || (c.ts[i] === c.ts[i - 1] && c.seq[i]! <= c.seq[i - 1]!)) sorted = false;
  }
  if (sorted) return c;
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => c.ts[a]! - c.ts[b]! || c.seq[a]! - c.seq[b]! || a - b,
  );
  const out = emptyColumns();
  for (const i of order) {
    const last = out.ts.length - 1;
    if (last >= 0 && out.ts[last] === c.ts[i] && out.seq[last] === c.seq[i]) continue;
    out.ts.push(c.ts[i]!);
    out.seq.push(c.seq[i]!);
    out.values.push(c.values[i]!);
    out.units.push(c.units[i]!);
  }
  return out;
}

/** Splits sorted columns at hour boundaries: [hour, columns of that hour][]. */
export function byHour(c: SampleColumns): [number, SampleColumns][] {
  const n = c.ts.length;
  if (n === 0) return [];
  const first = Math.floor(c.ts[0]! / HOUR_MS);
  if (Math.floor(c.ts[n - 1]! / HOUR_MS) === first) return [[first, c]];
  const out: [number, SampleColumns][] = [];
  let start = 0;
  for (let i = 1; i <= n; i++) {
    if (i < n && Math.floor(c.ts[i]! / HOUR_MS) === Math.floor(c.ts[start]! / HOUR_MS)) continue;
    out.push([Math.floor(c.ts[start]! / HOUR_MS), slice(c, start, i)]);
    start = i;
  }
  return out;
}

export function slice(c: SampleColumns, from: number, to: number): SampleColumns {
  return {
    ts: c.ts.slice(from, to),
    seq: c.seq.slice(from, to),
    values: c.values.slice(from, to),
    units: c.units.slice(from, to),
  };
}

export function encodeSampleBlock(c: SampleColumns): Buffer {
  const n = c.ts.length;
  const texts: string[] = [];
  const unit0 = n > 0 ? c.units[0]! : null;
  let sameUnit = true;
  for (let i = 1; i < n && sameUnit; i++) if (c.units[i] !== unit0) sameUnit = false;
  const fixed = HEADER + n * 25;
  // the trailer is written after the fixed part; its size is known once the texts are collected
  const head = Buffer.allocUnsafe(fixed);
  const view = new DataView(head.buffer, head.byteOffset, fixed);
  head[0] = VERSION;
  head[1] = head[2] = head[3] = 0;
  view.setUint32(4, n, true);
  const tsAt = HEADER;
  const seqAt = tsAt + n * 8;
  const numAt = seqAt + n * 8;
  const typeAt = numAt + n * 8;
  for (let i = 0; i < n; i++) {
    view.setFloat64(tsAt + i * 8, c.ts[i]!, true);
    view.setFloat64(seqAt + i * 8, c.seq[i]!, true);
    const v = c.values[i];
    if (typeof v === 'number') {
      view.setFloat64(numAt + i * 8, v, true);
      head[typeAt + i] = NUMBER;
    } else if (typeof v === 'boolean') {
      view.setFloat64(numAt + i * 8, v ? 1 : 0, true);
      head[typeAt + i] = BOOLEAN;
    } else {
      view.setFloat64(numAt + i * 8, 0, true);
      head[typeAt + i] = STRING;
      texts.push(String(v));
    }
  }
  const trailer = Buffer.from(JSON.stringify({ u: sameUnit ? unit0 : c.units, t: texts }));
  return Buffer.concat([head, trailer], fixed + trailer.length);
}

/** One sample read back: `num` is the numeric value (booleans as 0/1, null for a string). */
export interface BlockSample {
  ts: number;
  seq: number;
  value: PointValue;
  num: number | null;
  unit: string | null;
}

export function decodeSampleBlock(body: Uint8Array): BlockSample[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (body[0] !== VERSION) throw new Error(`sample block version ${body[0]} is not known to this mqiot`);
  const n = view.getUint32(4, true);
  const tsAt = HEADER;
  const seqAt = tsAt + n * 8;
  const numAt = seqAt + n * 8;
  const typeAt = numAt + n * 8;
  const trailer = JSON.parse(
    Buffer.from(body.buffer, body.byteOffset + typeAt + n, body.byteLength - typeAt - n).toString(),
  ) as { u: string | null | (string | null)[]; t: string[] };
  const out: BlockSample[] = new Array(n);
  let text = 0;
  for (let i = 0; i < n; i++) {
    const type = body[typeAt + i];
    const num = view.getFloat64(numAt + i * 8, true);
    const value = type === STRING ? trailer.t[text++]! : type === BOOLEAN ? num === 1 : num;
    out[i] = {
      ts: view.getFloat64(tsAt + i * 8, true),
      seq: view.getFloat64(seqAt + i * 8, true),
      value,
      num: type === STRING ? null : num,
      unit: Array.isArray(trailer.u) ? (trailer.u[i] ?? null) : trailer.u,
    };
  }
  return out;
}

/** Back to columns (for merging blocks and for retention's rewrite of a block). */
export function toColumns(samples: readonly BlockSample[]): SampleColumns {
  const c = emptyColumns();
  for (const s of samples) {
    c.ts.push(s.ts);
    c.seq.push(s.seq);
    c.values.push(s.value);
    c.units.push(s.unit);
  }
  return c;
}
