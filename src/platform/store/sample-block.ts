// The readings of one series within one hour, as one stored block: a few rows per batch instead of one
// b-tree entry per reading is what lets the store keep up with ingest (docs/architecture.md, "The
// telemetry store").
//
// Two layouts, both ending in UTF-8 JSON `{ "u": unit, "t": texts }` — `u` one unit for every sample or
// an array of n (null for none), `t` the string values in order:
// - version 2 (written): version byte, uint32 offset of the trailer, varint n, the first time and the first device seq as float64
//   (little-endian), then per sample the change of time and of seq since the sample before (zigzag
//   varints: a reading a second after the last with the next seq is 3 bytes), a tag byte and the value —
//   an integer as a zigzag varint, another number as float64, booleans in the tag, strings in the
//   trailer. About 6 bytes a reading instead of 25, so less to write at every batch and every merge.
// - version 1 (read; written when a time or seq is not an integer or jumps by 2^52 or more): version
//   byte, 3 bytes zero, uint32 n, then n float64 times, n float64 seqs, n float64 values and n type bytes.
import type { PointValue } from './types.ts';

export const HOUR_MS = 3_600_000;
const VERSION = 1;
const VARINT_VERSION = 2;
/** Value tags of version 2. */
const TAG_FLOAT = 0;
const TAG_FALSE = 1;
const TAG_TRUE = 2;
const TAG_STRING = 3;
const TAG_INT = 4;
/** Largest |integer| written as a varint: its zigzag form (2|x|) stays an exact number. */
const MAX_VARINT = 2 ** 52;
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
  return encodeVarintBlock(c) ?? encodeFixedBlock(c);
}

/** Zigzag form of a safe integer of at most MAX_VARINT in size: 0, −1, 1, −2… → 0, 1, 2, 3… */
const zigzag = (x: number) => (x >= 0 ? x * 2 : -x * 2 - 1);
const unzigzag = (z: number) => (z % 2 === 0 ? z / 2 : -(z + 1) / 2);
const isVarint = (x: number) =>
  // an int32 first (the usual case, cheap to test); −0 is no integer here: it reads back as 0
  (x | 0) === x ? x !== 0 || 1 / x > 0 : Number.isInteger(x) && Math.abs(x) <= MAX_VARINT;

function writeVarint(out: Buffer, at: number, z: number): number {
  // arithmetic while z is above 31 bits, bit operations below (every usual time step, seq step and value)
  while (z > 0x7fffffff) {
    out[at++] = (z % 0x80) | 0x80;
    z = Math.floor(z / 0x80);
  }
  while (z > 0x7f) {
    out[at++] = (z & 0x7f) | 0x80;
    z >>>= 7;
  }
  out[at++] = z;
  return at;
}

/** The trailer: one unit for every sample or one each, and the string values in order. */
function trailerOf(c: SampleColumns, texts: string[]): string {
  const n = c.ts.length;
  const unit0 = n > 0 ? c.units[0]! : null;
  let sameUnit = true;
  for (let i = 1; i < n && sameUnit; i++) if (c.units[i] !== unit0) sameUnit = false;
  return JSON.stringify({ u: sameUnit ? unit0 : c.units, t: texts });
}

/**
 * Version 2, or undefined when a time or seq does not fit it. Written in one pass into one buffer (this
 * runs for every series at every ingest batch); a sample that does not fit gives the version up.
 */
function encodeVarintBlock(c: SampleColumns): Buffer | undefined {
  const n = c.ts.length;
  if (n === 0) return undefined;
  const { ts, seq, values } = c;
  if (!Number.isSafeInteger(ts[0]) || !Number.isSafeInteger(seq[0])) return undefined;
  // at most: version, trailer offset, n, two float64s, then per sample two 8-byte varints, a tag and a
  // float64
  const size = 1 + 4 + 8 + 16 + n * 25;
  const out = Buffer.allocUnsafe(size);
  const view = new DataView(out.buffer, out.byteOffset, size);
  out[0] = VARINT_VERSION;
  let at = writeVarint(out, 5, n);
  view.setFloat64(at, ts[0]!, true);
  view.setFloat64(at + 8, seq[0]!, true);
  at += 16;
  let texts: string[] | undefined;
  for (let i = 0; i < n; i++) {
    if (i > 0) {
      const dt = ts[i]! - ts[i - 1]!;
      const ds = seq[i]! - seq[i - 1]!;
      if (!Number.isSafeInteger(ts[i]) || !Number.isSafeInteger(seq[i]) || !isVarint(dt) || !isVarint(ds))
        return undefined;
      at = writeVarint(out, at, zigzag(dt));
      at = writeVarint(out, at, zigzag(ds));
    }
    const v = values[i];
    if (typeof v === 'number') {
      if (isVarint(v)) {
        out[at++] = TAG_INT;
        at = writeVarint(out, at, zigzag(v));
      } else {
        out[at++] = TAG_FLOAT;
        view.setFloat64(at, v, true);
        at += 8;
      }
    } else if (typeof v === 'boolean') out[at++] = v ? TAG_TRUE : TAG_FALSE;
    else {
      out[at++] = TAG_STRING;
      (texts ??= []).push(String(v));
    }
  }
  // where the trailer starts, so a reader has the strings before it walks the samples
  view.setUint32(1, at, true);
  const trailer = trailerOf(c, texts ?? []);
  // into the room left over when it surely fits (nearly always: a unit and no texts), else appended
  if (size - at >= trailer.length * 3) return out.subarray(0, at + out.write(trailer, at));
  const tail = Buffer.from(trailer);
  return Buffer.concat([out.subarray(0, at), tail], at + tail.length);
}

/** Called for each sample of a block in order (`num`: the numeric value, null for a string). */
type SampleVisitor = (
  ts: number,
  seq: number,
  value: PointValue,
  num: number | null,
  unit: string | null,
) => void;

function walkVarintBlock(body: Uint8Array, visit: SampleVisitor): void {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const trailerAt = view.getUint32(1, true);
  const trailer = JSON.parse(
    Buffer.from(body.buffer, body.byteOffset + trailerAt, body.byteLength - trailerAt).toString(),
  ) as { u: string | null | (string | null)[]; t: string[] };
  const units = trailer.u;
  let at = 5;
  const varint = (): number => {
    let z = 0;
    let scale = 1;
    for (;;) {
      const byte = body[at++]!;
      z += (byte & 0x7f) * scale;
      if (byte < 0x80) return z;
      scale *= 0x80;
    }
  };
  const n = varint();
  let ts = view.getFloat64(at, true);
  let seq = view.getFloat64(at + 8, true);
  at += 16;
  let text = 0;
  for (let i = 0; i < n; i++) {
    if (i > 0) {
      ts += unzigzag(varint());
      seq += unzigzag(varint());
    }
    const tag = body[at++]!;
    let value: PointValue;
    let num: number | null;
    if (tag === TAG_INT) value = num = unzigzag(varint());
    else if (tag === TAG_FLOAT) {
      value = num = view.getFloat64(at, true);
      at += 8;
    } else if (tag === TAG_STRING) {
      value = trailer.t[text++]!;
      num = null;
    } else {
      value = tag === TAG_TRUE;
      num = value ? 1 : 0;
    }
    visit(ts, seq, value, num, Array.isArray(units) ? (units[i] ?? null) : units);
  }
}

/** Version 1: fixed-width columns. */
function encodeFixedBlock(c: SampleColumns): Buffer {
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
  const out: BlockSample[] = [];
  walkSampleBlock(body, (ts, seq, value, num, unit) => {
    out.push({ ts, seq, value, num, unit });
  });
  return out;
}

/** Appends a block's samples to columns (merging blocks): no object per sample on the way. */
export function appendSampleBlock(body: Uint8Array, c: SampleColumns): void {
  walkSampleBlock(body, (ts, seq, value, _num, unit) => {
    c.ts.push(ts);
    c.seq.push(seq);
    c.values.push(value);
    c.units.push(unit);
  });
}

function walkSampleBlock(body: Uint8Array, visit: SampleVisitor): void {
  if (body[0] === VARINT_VERSION) return walkVarintBlock(body, visit);
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
  let text = 0;
  for (let i = 0; i < n; i++) {
    const type = body[typeAt + i];
    const num = view.getFloat64(numAt + i * 8, true);
    const value = type === STRING ? trailer.t[text++]! : type === BOOLEAN ? num === 1 : num;
    visit(
      view.getFloat64(tsAt + i * 8, true),
      view.getFloat64(seqAt + i * 8, true),
      value,
      type === STRING ? null : num,
      Array.isArray(trailer.u) ? (trailer.u[i] ?? null) : trailer.u,
    );
  }
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
