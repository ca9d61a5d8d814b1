// Numeric codecs: integers 8–64 bit in any byte/word order, floats, BCD. Pure functions over byte arrays.
import { ContractError } from './errors.ts';

export const WordOrder = { ABCD: 'ABCD', CDAB: 'CDAB', BADC: 'BADC', DCBA: 'DCBA' } as const;
export type WordOrder = (typeof WordOrder)[keyof typeof WordOrder];

export interface NumType {
  kind: 'int' | 'float';
  signed: boolean;
  size: number; // bytes
  order: WordOrder; // ABCD = big endian, DCBA = little endian
}

const NUM_RE = /^(u|i|f)(8|16|24|32|40|48|56|64)(le|be)?$/;

/** 'u16', 'i32le', 'f32be' → NumType, or undefined if the name is not numeric. */
export function parseNumType(
  name: string,
  endian: string | undefined,
  words: unknown,
  path: string,
): NumType | undefined {
  const m = NUM_RE.exec(name);
  if (!m) return undefined;
  const kind = m[1] === 'f' ? 'float' : 'int';
  const size = Number(m[2]) / 8;
  if (kind === 'float' && size !== 4 && size !== 8)
    throw new ContractError(path, `float must be f32 or f64, not ${name}`);
  const e = m[3] ?? (endian === 'little' ? 'le' : 'be');
  let order: WordOrder = e === 'le' ? 'DCBA' : 'ABCD';
  if (words !== undefined) {
    if (typeof words !== 'string' || !(words in WordOrder))
      throw new ContractError(`${path}.words`, 'expected ABCD, CDAB, BADC or DCBA');
    if (size % 2 !== 0 || size < 4)
      throw new ContractError(`${path}.words`, 'word order needs a 32- or 64-bit type');
    order = words as WordOrder;
  }
  return { kind, signed: m[1] === 'i' || kind === 'float', size, order };
}

/** Index permutation: big-endian byte i of the value sits at frame byte perm[i]. */
export function permutation(size: number, order: WordOrder): number[] {
  const idx = [...Array(size).keys()];
  const words = size / 2;
  switch (order) {
    case 'ABCD':
      return idx;
    case 'DCBA':
      return idx.map((i) => size - 1 - i);
    case 'CDAB':
      return idx.map((i) => (words - 1 - Math.floor(i / 2)) * 2 + (i % 2));
    case 'BADC':
      return idx.map((i) => Math.floor(i / 2) * 2 + (1 - (i % 2)));
  }
}

const scratch = new DataView(new ArrayBuffer(8));

/** Reads a numeric value at p (bounds already checked). 64-bit integers beyond 2^53 become decimal strings. */
export function makeNumReader(t: NumType): (b: Uint8Array, p: number) => number | string {
  const { size, signed } = t;
  if (t.kind === 'int' && t.order === 'ABCD') {
    if (size === 1) return signed ? (b, p) => (b[p]! << 24) >> 24 : (b, p) => b[p]!;
    if (size === 2)
      return signed ? (b, p) => (((b[p]! << 8) | b[p + 1]!) << 16) >> 16 : (b, p) => (b[p]! << 8) | b[p + 1]!;
    if (size === 4)
      return signed
        ? (b, p) => (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!
        : (b, p) => ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }
  if (t.kind === 'int' && t.order === 'DCBA') {
    if (size === 1) return signed ? (b, p) => (b[p]! << 24) >> 24 : (b, p) => b[p]!;
    if (size === 2)
      return signed ? (b, p) => (((b[p + 1]! << 8) | b[p]!) << 16) >> 16 : (b, p) => (b[p + 1]! << 8) | b[p]!;
    if (size === 4)
      return signed
        ? (b, p) => (b[p + 3]! << 24) | (b[p + 2]! << 16) | (b[p + 1]! << 8) | b[p]!
        : (b, p) => ((b[p + 3]! << 24) | (b[p + 2]! << 16) | (b[p + 1]! << 8) | b[p]!) >>> 0;
  }
  const perm = permutation(size, t.order);
  if (t.kind === 'float') {
    return (b, p) => {
      for (let i = 0; i < size; i++) scratch.setUint8(i, b[p + perm[i]!]!);
      return size === 4 ? scratch.getFloat32(0) : scratch.getFloat64(0);
    };
  }
  if (size <= 6) {
    const limit = 2 ** (size * 8);
    return (b, p) => {
      let v = 0;
      for (let i = 0; i < size; i++) v = v * 256 + b[p + perm[i]!]!;
      return signed && v >= limit / 2 ? v - limit : v;
    };
  }
  return (b, p) => {
    let v = 0n;
    for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(b[p + perm[i]!]!);
    if (signed) v = BigInt.asIntN(size * 8, v);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v.toString();
  };
}

/** Writes a numeric value at p; throws RangeError with a readable message when it does not fit. */
export function makeNumWriter(t: NumType): (b: Uint8Array, p: number, v: number | bigint) => void {
  const { size, signed } = t;
  const perm = permutation(size, t.order);
  if (t.kind === 'float') {
    return (b, p, v) => {
      if (size === 4) scratch.setFloat32(0, Number(v));
      else scratch.setFloat64(0, Number(v));
      for (let i = 0; i < size; i++) b[p + perm[i]!] = scratch.getUint8(i);
    };
  }
  const bits = BigInt(size * 8);
  const min = signed ? -(1n << (bits - 1n)) : 0n;
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  return (b, p, v) => {
    if (typeof v === 'number' && !Number.isInteger(v)) throw new RangeError(`${v} is not an integer`);
    let x = BigInt(v);
    if (x < min || x > max)
      throw new RangeError(`${v} does not fit in ${signed ? 'i' : 'u'}${size * 8} (${min}..${max})`);
    x = BigInt.asUintN(size * 8, x);
    for (let i = size - 1; i >= 0; i--) {
      b[p + perm[i]!] = Number(x & 0xffn);
      x >>= 8n;
    }
  };
}

export interface BcdType {
  size: number;
  littleEndian: boolean; // least significant byte first (DL/T 645)
  lowNibbleFirst: boolean; // digit order inside a byte
  signed: boolean; // top bit of the most significant byte is the sign
}

/** Returns the integer value of the BCD digits, or -1 if a digit is not 0–9 (caller reports it). */
export function readBcd(t: BcdType, b: Uint8Array, p: number): number {
  let v = 0;
  let negative = false;
  for (let i = 0; i < t.size; i++) {
    let byte = b[t.littleEndian ? p + t.size - 1 - i : p + i]!;
    if (i === 0 && t.signed) {
      negative = (byte & 0x80) !== 0;
      byte &= 0x7f;
    }
    const hi = t.lowNibbleFirst ? byte & 0x0f : byte >> 4;
    const lo = t.lowNibbleFirst ? byte >> 4 : byte & 0x0f;
    if (hi > 9 || lo > 9) return Number.NaN;
    v = v * 100 + hi * 10 + lo;
  }
  return negative ? -v : v;
}

export function writeBcd(t: BcdType, b: Uint8Array, p: number, value: number): void {
  if (!Number.isInteger(value)) throw new RangeError(`${value} is not an integer`);
  const negative = value < 0;
  if (negative && !t.signed) throw new RangeError(`${value} is negative but the BCD field has no sign`);
  let v = Math.abs(value);
  const maxDigits = t.size * 2 - (t.signed ? 1 : 0);
  if (v >= 10 ** maxDigits) throw new RangeError(`${value} does not fit in ${maxDigits} BCD digits`);
  for (let i = t.size - 1; i >= 0; i--) {
    const lo = v % 10;
    const hi = Math.floor(v / 10) % 10;
    v = Math.floor(v / 100);
    let byte = t.lowNibbleFirst ? (lo << 4) | hi : (hi << 4) | lo;
    if (i === 0 && negative) byte |= 0x80;
    b[t.littleEndian ? p + t.size - 1 - i : p + i] = byte;
  }
}

const HEX = [...Array(256).keys()].map((i) => i.toString(16).toUpperCase().padStart(2, '0'));

export function toHexString(b: Uint8Array, from: number, to: number, reverse: boolean): string {
  let s = '';
  if (reverse) for (let i = to - 1; i >= from; i--) s += HEX[b[i]!];
  else for (let i = from; i < to; i++) s += HEX[b[i]!];
  return s;
}

/** '01 03 0A', '01030a', '0x01,0x03' → bytes; throws RangeError on odd or non-hex input. */
export function parseHex(text: string): Uint8Array {
  const clean = text.replace(/0x/gi, '').replace(/[\s,:_-]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean))
    throw new RangeError(`'${text}' is not hex bytes`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}
