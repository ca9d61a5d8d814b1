// A pass over an envelope's bytes before cbor-x decodes it. cbor-x reads nearly all of RFC 8949, but on
// its own it would give this protocol values it cannot use — BigInt for a 64-bit integer it cannot hold
// exactly, Date, Set, Map or typed arrays for tags, shared references — and it refuses
// indefinite-length text and byte strings, which streaming encoders write. This pass walks the item
// headers only (no values are built), so it is cheap on the hot path, and it:
// - refuses what the protocol has no use for, naming the field: integers beyond ±(2^53 − 1), tags
//   (except the self-described CBOR magic number in front of the message), simple values other than
//   false/true/null/undefined, map keys that are not text, text that is not UTF-8, trailing bytes;
// - rewrites indefinite-length strings as definite ones (only when there are any), so cbor-x reads them,
//   and strings with an 8-byte length head with a shorter head, which cbor-x's native reader fails on.
import { isUtf8 } from 'node:buffer';

/** A message that is not well-formed CBOR, or uses CBOR this protocol does not accept. */
export class CborCheckError extends Error {
  /** Dotted path of the field where the problem is ('' for the message itself), as EnvelopeError uses. */
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'CborCheckError';
    this.field = field;
  }
}

/** Deeper nesting than the protocol ever needs is refused before it can exhaust the stack. */
export const MAX_DEPTH = 64;
/** Tag 55799 (RFC 8949 §3.4.6) only marks bytes as CBOR; some encoders put it in front of every message. */
const SELF_DESCRIBED = 55799;
const BREAK = 0xff;
/** 2^53 − 1 split as the high 32 bits of a 64-bit argument: anything above cannot be a JS number exactly. */
const SAFE_HIGH_WORD = 0x1fffff;

/**
 * Checks one CBOR message; returns it unchanged, or a copy with indefinite-length strings made definite
 * (and 8-byte string heads shortened).
 * Throws CborCheckError.
 */
export function checkCbor(buf: Uint8Array): Uint8Array {
  const walker = new Walker(buf);
  walker.message();
  return walker.rewrites ? rewrite(buf, walker.rewrites) : buf;
}

interface Rewrite {
  start: number;
  end: number;
  major: 2 | 3;
  content: Uint8Array;
}

class Walker {
  pos = 0;
  /** Where each open container is: an array index (≥ 0) or −(offset of the map key + 1). */
  readonly path: number[] = [];
  rewrites: Rewrite[] | undefined;
  readonly #view: DataView;

  constructor(readonly buf: Uint8Array) {
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  message(): void {
    if (this.buf.length >= 3 && this.buf[0] === 0xd9 && this.#view.getUint16(1) === SELF_DESCRIBED)
      this.pos = 3;
    this.item(0);
    if (this.pos !== this.buf.length)
      this.fail('', `not valid CBOR: ${this.buf.length - this.pos} byte(s) after the end of the message`);
  }

  item(depth: number): void {
    if (depth > MAX_DEPTH) this.fail(this.field(), `nested deeper than ${MAX_DEPTH} levels`);
    const start = this.pos;
    const initial = this.byte();
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (info === 31) return this.indefinite(major, start, depth);
    const arg = this.argument(major, info);
    switch (major) {
      case 0:
      case 1:
        return;
      case 2:
      case 3: {
        const from = this.pos;
        if (major === 3) this.text(from, arg);
        this.skip(arg);
        // cbor-x with its native string reader (cbor-extract) refuses a message holding a string with
        // an 8-byte length head ("Unexpected end of buffer reading string"): it gets a shorter head.
        if (info === 27) this.addRewrite(start, major, this.buf.subarray(from, this.pos));
        return;
      }
      case 4:
        if (arg > this.buf.length - this.pos) this.truncated();
        for (let i = 0; i < arg; i++) this.child(i, depth);
        return;
      case 5:
        if (arg > (this.buf.length - this.pos) / 2) this.truncated();
        for (let i = 0; i < arg; i++) this.entry(depth);
        return;
      case 6:
        return this.fail(this.field(), `CBOR tag ${arg} is not used by this protocol`);
      default:
        return this.simple(info, arg);
    }
  }

  /** Major type 7: floats of any width are numbers; of the simple values only false, true, null, undefined. */
  simple(info: number, arg: number): void {
    if (info >= 20 && info <= 23) return;
    if (info >= 25 && info <= 27) return; // half, single, double float: argument() already skipped it
    this.fail(this.field(), `CBOR simple value ${info === 24 ? arg : info} is not used by this protocol`);
  }

  indefinite(major: number, start: number, depth: number): void {
    if (major === 4) {
      for (let i = 0; !this.atBreak(); i++) this.child(i, depth);
    } else if (major === 5) {
      while (!this.atBreak()) this.entry(depth);
    } else if (major === 2 || major === 3) {
      // Chunks are definite strings of the same type; their concatenation is the string.
      const chunks: Uint8Array[] = [];
      while (!this.atBreak()) {
        const head = this.byte();
        if (head >> 5 !== major || (head & 0x1f) === 31)
          this.fail(
            this.field(),
            'not valid CBOR: an indefinite-length string holds a chunk of another type',
          );
        const length = this.argument(major, head & 0x1f);
        const from = this.pos;
        this.skip(length);
        chunks.push(this.buf.subarray(from, this.pos));
      }
      const content = Buffer.concat(chunks);
      if (major === 3) this.text(0, content.length, content);
      this.addRewrite(start, major, content);
    } else if (major === 7) {
      this.fail(this.field(), 'not valid CBOR: a break outside an indefinite-length item');
    } else {
      this.fail(this.field(), `not valid CBOR: major type ${major} cannot have an indefinite length`);
    }
  }

  /** The string from `start` to pos is to be written as one definite string of `content`. */
  addRewrite(start: number, major: 2 | 3, content: Uint8Array): void {
    (this.rewrites ??= []).push({ start, end: this.pos, major, content });
  }

  child(index: number, depth: number): void {
    this.path.push(index);
    this.item(depth + 1);
    this.path.pop();
  }

  entry(depth: number): void {
    const keyAt = this.pos;
    if (keyAt < this.buf.length && this.buf[keyAt]! >> 5 !== 3)
      this.fail(this.field(), 'map keys must be text strings');
    this.item(depth + 1);
    this.path.push(-(keyAt + 1));
    if (this.atEnd()) this.truncated();
    this.item(depth + 1);
    this.path.pop();
  }

  /** The argument of an item head; 64-bit integers must fit a JavaScript number exactly. */
  argument(major: number, info: number): number {
    if (info < 24) return info;
    if (info === 24) return this.byte();
    const width = info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (width === 0) this.fail(this.field(), `not valid CBOR: reserved additional information ${info}`);
    if (this.pos + width > this.buf.length) this.truncated();
    const at = this.pos;
    this.pos += width;
    if (width === 2) return this.#view.getUint16(at);
    if (width === 4) return this.#view.getUint32(at);
    const high = this.#view.getUint32(at);
    const low = this.#view.getUint32(at + 4);
    if (
      major <= 1 &&
      (high > SAFE_HIGH_WORD || (major === 1 && high === SAFE_HIGH_WORD && low === 0xffffffff))
    ) {
      const value = (BigInt(high) << 32n) | BigInt(low);
      this.fail(
        this.field(),
        `integer ${major === 0 ? value : -1n - value} is beyond ±(2^53 − 1), the range this protocol accepts`,
      );
    }
    return high * 0x1_0000_0000 + low;
  }

  text(from: number, length: number, content: Uint8Array = this.buf): void {
    for (let i = from; i < from + length && i < content.length; i++)
      if (content[i]! >= 0x80) {
        if (!isUtf8(content.subarray(from, from + length)))
          this.fail(this.field(), 'text string is not UTF-8');
        return;
      }
  }

  atBreak(): boolean {
    if (this.atEnd()) this.truncated();
    if (this.buf[this.pos] !== BREAK) return false;
    this.pos++;
    return true;
  }

  atEnd(): boolean {
    return this.pos >= this.buf.length;
  }

  byte(): number {
    if (this.atEnd()) this.truncated();
    return this.buf[this.pos++]!;
  }

  skip(length: number): void {
    if (length > this.buf.length - this.pos) this.truncated();
    this.pos += length;
  }

  truncated(): never {
    return this.fail('', `not valid CBOR: the message ends inside an item (${this.buf.length} bytes)`);
  }

  fail(field: string, message: string): never {
    throw new CborCheckError(field, message);
  }

  /** The dotted path of the item being read: `frames[2].ts`. Only built for an error. */
  field(): string {
    let out = '';
    for (const step of this.path) {
      if (step >= 0) out += `[${step}]`;
      else {
        const key = keyText(this.buf, -step - 1);
        out += out === '' ? key : `.${key}`;
      }
    }
    return out;
  }
}

/** The text of the map key at `at` (already checked to be a text string, definite or not). */
function keyText(buf: Uint8Array, at: number): string {
  const walker = new Walker(buf);
  walker.pos = at;
  const head = walker.byte();
  const parts: Uint8Array[] = [];
  const readChunk = (info: number) => {
    const length = walker.argument(3, info);
    parts.push(buf.subarray(walker.pos, walker.pos + length));
    walker.pos += length;
  };
  if ((head & 0x1f) !== 31) readChunk(head & 0x1f);
  else while (buf[walker.pos] !== BREAK) readChunk(walker.byte() & 0x1f);
  return Buffer.concat(parts).toString('utf8');
}

/** A copy of `buf` with each indefinite-length string replaced by one definite string of its content. */
function rewrite(buf: Uint8Array, rewrites: Rewrite[]): Buffer {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const r of rewrites) {
    parts.push(buf.subarray(at, r.start), stringHead(r.major, r.content.length), r.content);
    at = r.end;
  }
  parts.push(buf.subarray(at));
  return Buffer.concat(parts);
}

function stringHead(major: number, length: number): Buffer {
  const type = major << 5;
  if (length < 24) return Buffer.from([type | length]);
  if (length < 0x100) return Buffer.from([type | 24, length]);
  const out = Buffer.alloc(length < 0x10000 ? 3 : 5);
  out[0] = type | (length < 0x10000 ? 25 : 26);
  if (length < 0x10000) out.writeUInt16BE(length, 1);
  else out.writeUInt32BE(length, 1);
  return out;
}
