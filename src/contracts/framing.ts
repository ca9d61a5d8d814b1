// Framing: wake-up prefix, start/end markers, total length, checksums; and finding frames in a byte stream.
import { checksumAlgorithm, type ChecksumAlgorithm } from './checksum.ts';
import { ContractError, DecodeFailure, DecodeReason } from './errors.ts';
import { compileExpr } from './expr.ts';
import { fail } from './layout.ts';
import { NeedBytes, newState, type Getter, type State } from './runtime.ts';
import { asArray, asBytes, asIdent, asInt, asObject, checkKeys } from './spec.ts';
import type { SplitResult } from './types.ts';

export interface ChecksumDef {
  name: string;
  alg: ChecksumAlgorithm;
  from: number;
  to: number;
  at: number;
  little: boolean;
}

export interface Framing {
  prefixByte: number;
  prefixMax: number;
  prefixEmit: Uint8Array;
  checksums: ChecksumDef[];
  /** Checks markers, length and checksums; sets s.base/s.stop/s.pos/s.end to the frame. Throws DecodeFailure. */
  check(s: State): void;
  split(stream: Uint8Array): SplitResult;
  /** Fills checksum fields of an encoded frame (without prefix). */
  finish(frame: Uint8Array): void;
  /** The parsed rules, for the code generator. */
  plan: FramingPlan;
}

export interface FramingPlan {
  startM: Uint8Array | undefined;
  endM: Uint8Array | undefined;
  length: unknown; // the expression source, re-parsed by the generator
  min: number;
  max: number;
}

const FRAMING_KEYS = new Set(['prefix', 'start', 'end', 'length', 'split', 'min', 'max']);
const CHECKSUM_KEYS = new Set(['name', 'algorithm', 'from', 'to', 'at', 'endian']);

/** Negative offsets count from the end of the frame. */
function abs(s: State, off: number): number {
  return off < 0 ? s.stop + off : s.base + off;
}

export function compileFraming(framingSpec: unknown, checksumSpec: unknown, endian: string): Framing {
  const f = framingSpec === undefined ? {} : asObject(framingSpec, 'framing');
  checkKeys(f, FRAMING_KEYS, 'framing');
  const prefix = f.prefix === undefined ? undefined : asObject(f.prefix, 'framing.prefix');
  const prefixByte = prefix ? asInt(prefix.byte, 'framing.prefix.byte', 0, 255) : -1;
  const prefixMax = prefix ? asInt(prefix.max ?? 4, 'framing.prefix.max', 0, 64) : 0;
  const emit = prefix ? asInt(prefix.emit ?? 0, 'framing.prefix.emit', 0, 64) : 0;
  const startM = f.start === undefined ? undefined : asBytes(f.start, 'framing.start');
  const endM = f.end === undefined ? undefined : asBytes(f.end, 'framing.end');
  const noNames = () => undefined;
  const length: Getter | undefined =
    f.length === undefined ? undefined : compileExpr(f.length, 'framing.length', noNames);
  // `split` is the length rule for byte streams when it differs from the decode rule (Modbus RTU responses).
  const streamLength: Getter | undefined =
    f.split === undefined ? length : compileExpr(f.split, 'framing.split', noNames);
  const min = asInt(f.min ?? 0, 'framing.min');
  const max = asInt(f.max ?? 65536, 'framing.max');

  const checksums: ChecksumDef[] = (checksumSpec === undefined ? [] : asArray(checksumSpec, 'checksums')).map(
    (c, i) => {
      const p = `checksums[${i}]`;
      const o = asObject(c, p);
      checkKeys(o, CHECKSUM_KEYS, p);
      const alg = checksumAlgorithm(o.algorithm, `${p}.algorithm`);
      const at = asInt(o.at, `${p}.at`, -65536, 65536);
      const e = o.endian ?? endian;
      if (e !== 'big' && e !== 'little') throw new ContractError(`${p}.endian`, "expected 'big' or 'little'");
      return {
        name: o.name === undefined ? `checksum${i}` : asIdent(o.name, `${p}.name`),
        alg,
        from: asInt(o.from ?? 0, `${p}.from`, -65536, 65536),
        to: asInt(o.to ?? at, `${p}.to`, -65536, 65536),
        at,
        little: e === 'little',
      };
    },
  );

  const readStored = (b: Uint8Array, p: number, n: number, little: boolean): number => {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + b[little ? p + n - 1 - i : p + i]!;
    return v;
  };

  const verifyChecksums = (s: State): void => {
    for (const c of checksums) {
      const from = abs(s, c.from);
      const to = abs(s, c.to);
      const at = abs(s, c.at);
      const n = c.alg.size;
      if (from < s.base || to > s.stop || from > to || at < s.base || at + n > s.stop)
        fail(s, s.stop, DecodeReason.truncated, `frame too short for checksum '${c.name}'`);
      const want = c.alg.compute(s.buf, from, to);
      const got = readStored(s.buf, at, n, c.little);
      if (want !== got)
        fail(s, at, DecodeReason.checksum, `'${c.name}' is 0x${hex(got, n)}, computed 0x${hex(want, n)}`);
    }
  };

  // Framing checks in order: prefix, start marker, total length, end marker, checksums.
  const check = (s: State): void => {
    const b = s.buf;
    let base = 0;
    if (prefixByte >= 0) while (base < prefixMax && base < b.length - 1 && b[base] === prefixByte) base++;
    s.base = base;
    s.pos = base;
    if (startM) {
      if (b.length - base < startM.length)
        fail(s, b.length, DecodeReason.truncated, 'frame too short for its start marker');
      for (let i = 0; i < startM.length; i++)
        if (b[base + i] !== startM[i])
          fail(s, base + i, DecodeReason.framing, `start marker 0x${hex(startM[i]!, 1)} not found`);
    }
    let stop = b.length;
    if (length) {
      s.stop = stop;
      let total: number;
      try {
        total = Number(length(s));
      } catch (e) {
        if (e instanceof NeedBytes)
          fail(s, b.length, DecodeReason.truncated, 'frame too short to read its length');
        throw e;
      }
      if (!Number.isInteger(total) || total < 1)
        fail(s, base, DecodeReason.length, `frame length ${total} is not valid`);
      if (base + total > b.length)
        fail(s, b.length, DecodeReason.truncated, `frame needs ${total} bytes, has ${b.length - base}`);
      if (base + total < b.length)
        fail(
          s,
          base + total,
          DecodeReason.length,
          `${b.length - base - total} bytes after the end of the frame`,
        );
      stop = base + total;
    }
    if (stop - base < min)
      fail(s, stop, DecodeReason.truncated, `frame needs at least ${min} bytes, has ${stop - base}`);
    if (stop - base > max) fail(s, base + max, DecodeReason.length, `frame longer than ${max} bytes`);
    s.stop = stop;
    s.end = stop;
    if (endM) {
      if (stop - base < endM.length + (startM?.length ?? 0))
        fail(s, stop, DecodeReason.truncated, 'frame too short for its end marker');
      for (let i = 0; i < endM.length; i++)
        if (b[stop - endM.length + i] !== endM[i])
          fail(s, stop - endM.length + i, DecodeReason.framing, `end marker 0x${hex(endM[i]!, 1)} not found`);
    }
    if (checksums.length > 0) verifyChecksums(s);
  };

  const split = (stream: Uint8Array): SplitResult => {
    if (stream.length === 0) return { need: 1 };
    let i = 0;
    if (prefixByte >= 0) while (i < stream.length && stream[i] === prefixByte) i++;
    if (i > 0) return { skip: i };
    if (startM) {
      const at = stream.indexOf(startM[0]!);
      if (at < 0) return { skip: stream.length };
      if (at > 0) return { skip: at };
      if (stream.length < startM.length) return { need: startM.length - stream.length };
      for (let k = 1; k < startM.length; k++) if (stream[k] !== startM[k]) return { skip: 1 };
    }
    if (!streamLength) {
      // Without a length rule a frame is everything that arrived (datagram-style links).
      const s = newState(stream, {});
      try {
        check(s);
      } catch (e) {
        if (e instanceof DecodeFailure && e.reason.startsWith('truncated')) return { need: 1 };
        return { skip: 1 };
      }
      return { frame: stream, start: 0, end: stream.length };
    }
    const s = newState(stream, {});
    let total: number;
    try {
      total = Number(streamLength(s));
    } catch (e) {
      if (e instanceof NeedBytes) return { need: e.total - stream.length };
      return { skip: 1 };
    }
    if (!Number.isInteger(total) || total < Math.max(1, min) || total > max) return { skip: 1 };
    if (stream.length < total) return { need: total - stream.length };
    const frame = stream.subarray(0, total);
    try {
      check(newState(frame, {}));
    } catch {
      return { skip: 1 }; // bad marker or checksum: resynchronise one byte further
    }
    return { frame, start: 0, end: total };
  };

  const finish = (frame: Uint8Array): void => {
    const s = newState(frame, {});
    for (const c of checksums) {
      const v = c.alg.compute(frame, abs(s, c.from), abs(s, c.to));
      const at = abs(s, c.at);
      const n = c.alg.size;
      for (let i = 0; i < n; i++)
        frame[c.little ? at + i : at + n - 1 - i] = Math.floor(v / 2 ** (8 * i)) & 0xff;
    }
  };

  return {
    prefixByte,
    prefixMax,
    prefixEmit: new Uint8Array(emit).fill(prefixByte),
    checksums,
    check,
    split,
    finish,
    plan: { startM, endM, length: f.length, min, max },
  };
}

function hex(v: number, bytes: number): string {
  return v
    .toString(16)
    .toUpperCase()
    .padStart(bytes * 2, '0');
}
