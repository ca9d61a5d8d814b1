// The fast path of decoding an envelope's CBOR: one pass over the bytes that checks and builds the value
// together, for the CBOR nearly every sender writes. It exists because the general path — checkCbor()
// walking the headers (cbor-check.ts), then cbor-x building the value — reads every byte twice and
// cbor-x alone was over half of the decoding time of a data group (a CPU profile of 50-frame groups:
// about 53 % cbor-x, 20 % the check, 22 % validation).
//
// It does not replace that path, it stands in front of it. Whatever is not plainly accepted here —
// every refusal (bad UTF-8, tags, out-of-range integers, trailing bytes, truncation, depth...),
// indefinite-length text and byte strings (which need a rewrite), text starting with a byte order mark,
// a tag 55799 anywhere but the front —
// makes readCbor() give up with NOT_READ, and the caller runs the general path, which then accepts the
// message or refuses it with its field and reason exactly as before. So refusals and their messages
// come from one place, and this reader need only agree with cbor-x on the values of what both accept:
// test/protocol/cbor-read.test.ts compares the two on generated messages.
import { isUtf8 } from 'node:buffer';
import { MAX_DEPTH } from './cbor-check.ts';

/** readCbor() could not read the message on its own: use checkCbor() and cbor-x. */
export const NOT_READ: unique symbol = Symbol('not read');

/** Thrown inside the reader to give up; not an Error, so no stack trace is taken. */
const GIVE_UP = { giveUp: true };
/** 2^53 − 1 split as the high 32 bits of a 64-bit argument (as in cbor-check.ts). */
const SAFE_HIGH_WORD = 0x1fffff;
/** cbor-x's own limits (decode.js): beyond them it refuses what the check accepts, so we give up too. */
const CBOR_X_MAX_ARRAY = 112_810_000;
const CBOR_X_MAX_PROPERTIES = 16_710_000;
/** Up to this length an ASCII string is looked up in the cache or built in JS, not by a native call. */
const SHORT_TEXT = 24;

/**
 * The value of one CBOR message, as cbor-x (mapsAsObjects, int64AsNumber) would give it after
 * checkCbor() accepted it; or NOT_READ when the general path must decide.
 */
export function readCbor(buf: Uint8Array): unknown {
  const reader = new Reader(buf);
  // The self-described CBOR tag (d9 d9f7) is allowed in front of the message only (cbor-check.ts).
  const tagged = buf.length >= 3 && buf[0] === 0xd9 && buf[1] === 0xd9 && buf[2] === 0xf7;
  if (tagged) reader.pos = 3;
  try {
    const value = reader.item(0);
    // cbor-x gives a tagged `undefined` as a Tag object, which the envelope check reports otherwise.
    if (tagged && value === undefined) return NOT_READ;
    return reader.pos === buf.length ? value : NOT_READ;
  } catch (err) {
    if (err === GIVE_UP) return NOT_READ;
    throw err;
  }
}

class Reader {
  pos = 0;
  readonly #buf: Uint8Array;
  #view: DataView | undefined;
  #text: Buffer | undefined;

  constructor(buf: Uint8Array) {
    this.#buf = buf;
  }

  item(depth: number): unknown {
    if (depth > MAX_DEPTH) throw GIVE_UP;
    const buf = this.#buf;
    if (this.pos >= buf.length) throw GIVE_UP;
    const initial = buf[this.pos++]!;
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (major === 7) return this.simple(info);
    if (info === 31) {
      if (major === 4) return this.indefiniteArray(depth);
      if (major === 5) return this.indefiniteMap(depth);
      throw GIVE_UP; // indefinite strings are rewritten by the general path; the rest is refused there
    }
    const arg = info < 24 ? info : this.argument(major, info);
    switch (major) {
      case 0:
        return arg;
      case 1:
        return -1 - arg;
      case 2: {
        if (arg > buf.length - this.pos) throw GIVE_UP;
        // A view of the received bytes, not a copy, as cbor-x gives it (its copyBuffers is off).
        return buf.subarray(this.pos, (this.pos += arg));
      }
      case 3:
        return this.text(arg);
      case 4: {
        if (arg > buf.length - this.pos || arg > CBOR_X_MAX_ARRAY) throw GIVE_UP;
        const array = new Array<unknown>(arg);
        for (let i = 0; i < arg; i++) array[i] = this.item(depth + 1);
        return array;
      }
      case 5: {
        if (arg > (buf.length - this.pos) / 2 || arg > CBOR_X_MAX_PROPERTIES) throw GIVE_UP;
        const map: Record<string, unknown> = {};
        for (let i = 0; i < arg; i++) {
          const key = this.key();
          map[key] = this.item(depth + 1);
        }
        return map;
      }
      default:
        throw GIVE_UP; // a tag: refused by the general path
    }
  }

  indefiniteArray(depth: number): unknown[] {
    const array: unknown[] = [];
    while (!this.atBreak()) {
      if (array.length >= CBOR_X_MAX_ARRAY) throw GIVE_UP;
      array.push(this.item(depth + 1));
    }
    return array;
  }

  indefiniteMap(depth: number): Record<string, unknown> {
    const map: Record<string, unknown> = {};
    for (let count = 0; !this.atBreak(); count++) {
      if (count >= CBOR_X_MAX_PROPERTIES) throw GIVE_UP;
      const key = this.key();
      map[key] = this.item(depth + 1);
    }
    return map;
  }

  /** A map key: a definite text string, renamed as cbor-x renames `__proto__` (its safeKey()). */
  key(): string {
    const buf = this.#buf;
    if (this.pos >= buf.length) throw GIVE_UP;
    const initial = buf[this.pos++]!;
    const info = initial & 0x1f;
    if (initial >> 5 !== 3 || info === 31) throw GIVE_UP;
    const key = this.text(info < 24 ? info : this.argument(3, info));
    return key === '__proto__' ? '__proto_' : key;
  }

  /** Major type 7: false, true, null, undefined and floats; other simple values are refused. */
  simple(info: number): unknown {
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return undefined;
      case 25:
        return this.half();
      case 26:
        return this.view(4).getFloat32(this.pos - 4);
      case 27:
        return this.view(8).getFloat64(this.pos - 8);
      default:
        throw GIVE_UP;
    }
  }

  /** A half-precision float; every one is a double exactly, so this equals cbor-x's getFloat16(). */
  half(): number {
    const buf = this.#buf;
    if (this.pos + 2 > buf.length) throw GIVE_UP;
    const bits = (buf[this.pos]! << 8) | buf[this.pos + 1]!;
    this.pos += 2;
    const exponent = (bits >> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    let value: number;
    if (exponent === 0) value = fraction * 2 ** -24;
    else if (exponent === 31) value = fraction === 0 ? Infinity : NaN;
    else value = (fraction + 1024) * 2 ** (exponent - 25);
    return bits & 0x8000 ? -value : value;
  }

  /** The argument in 1, 2, 4 or 8 bytes after the head; 8-byte integers must fit a number exactly. */
  argument(major: number, info: number): number {
    const buf = this.#buf;
    const at = this.pos;
    switch (info) {
      case 24:
        if (at + 1 > buf.length) throw GIVE_UP;
        this.pos = at + 1;
        return buf[at]!;
      case 25:
        if (at + 2 > buf.length) throw GIVE_UP;
        this.pos = at + 2;
        return (buf[at]! << 8) | buf[at + 1]!;
      case 26:
        if (at + 4 > buf.length) throw GIVE_UP;
        this.pos = at + 4;
        return word(buf, at);
      case 27: {
        if (at + 8 > buf.length) throw GIVE_UP;
        this.pos = at + 8;
        const high = word(buf, at);
        const low = word(buf, at + 4);
        // Beyond ±(2^53 − 1): refused by the general path. Lengths this long never fit the message.
        if (high > SAFE_HIGH_WORD || (major === 1 && high === SAFE_HIGH_WORD && low === 0xffffffff))
          throw GIVE_UP;
        return high * 0x1_0000_0000 + low;
      }
      default:
        throw GIVE_UP; // reserved additional information 28–30
    }
  }

  /** A definite text string of `length` bytes at pos; not UTF-8 is refused by the general path. */
  text(length: number): string {
    const buf = this.#buf;
    const from = this.pos;
    if (length > buf.length - from) throw GIVE_UP;
    const to = from + length;
    this.pos = to;
    if (length > SHORT_TEXT) return this.longText(from, to);
    if (length === 0) return '';
    // Short ASCII strings (keys, device ids, contract ids) recur in every frame: taken from a cache. The
    // slot comes from the length and a few bytes (the first, the middle, the last four, where ids
    // differ), not from every byte: the comparison with the cached string reads them all anyway, and a
    // cached string is ASCII, so bytes equal to it are too.
    let hash = Math.imul(length, 0x9e3779b1) ^ buf[from]! ^ (buf[from + (length >> 1)]! << 7);
    for (let i = Math.max(from + 1, to - 4); i < to; i++) hash = Math.imul(hash ^ buf[i]!, 0x01000193);
    const slot = (hash ^ (hash >>> 15)) & (CACHE_SIZE - 1);
    const cached = cache[slot];
    if (cached !== undefined && cached.length === length && sameAscii(cached, buf, from)) return cached;
    let out = '';
    for (let i = from; i < to; i++) {
      const byte = buf[i]!;
      if (byte >= 0x80) return this.nonAscii(from, to);
      out += String.fromCharCode(byte);
    }
    cache[slot] = out;
    return out;
  }

  longText(from: number, to: number): string {
    const buf = this.#buf;
    for (let i = from; i < to; i++) if (buf[i]! >= 0x80) return this.nonAscii(from, to);
    this.#text ??= Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    return this.#text.toString('latin1', from, to); // ASCII: latin1 is the same and needs no check
  }

  nonAscii(from: number, to: number): string {
    const buf = this.#buf;
    if (!isUtf8(buf.subarray(from, to))) throw GIVE_UP;
    // A leading byte order mark is kept by some of cbor-x's string readers and dropped by its
    // TextDecoder (without its native addon, for strings over 64 bytes): left to cbor-x to decide.
    if (buf[from] === 0xef && buf[from + 1] === 0xbb && buf[from + 2] === 0xbf) throw GIVE_UP;
    this.#text ??= Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    return this.#text.toString('utf8', from, to);
  }

  atBreak(): boolean {
    if (this.pos >= this.#buf.length) throw GIVE_UP;
    if (this.#buf[this.pos] !== 0xff) return false;
    this.pos++;
    return true;
  }

  /** The DataView for a float of `width` bytes at pos, which it then skips. */
  view(width: number): DataView {
    const buf = this.#buf;
    if (this.pos + width > buf.length) throw GIVE_UP;
    this.pos += width;
    return (this.#view ??= new DataView(buf.buffer, buf.byteOffset, buf.byteLength));
  }
}

const CACHE_SIZE = 4096;
/** Recent short ASCII strings by a hash of their bytes; a slot holds the last string that hashed to it. */
const cache: (string | undefined)[] = new Array<string | undefined>(CACHE_SIZE).fill(undefined);

function sameAscii(text: string, buf: Uint8Array, from: number): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) !== buf[from + i]) return false;
  return true;
}

/** The big-endian 32-bit word at `at`, without a DataView call. */
function word(buf: Uint8Array, at: number): number {
  return buf[at]! * 0x100_0000 + ((buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!);
}
