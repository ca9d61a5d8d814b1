// The raw read of each field kind: integers inline in the contract's byte and word order, floats and
// wide integers through a reader, skip, bytes as hex text, BCD through digit tables, flags as one
// object literal; containers go to the layer below.
import { Unsupported, hex2, type GScope, type Loc } from './codegen-expr.ts';
import { ContainerGen } from './codegen-containers.ts';
import { makeNumReader, parseNumType, permutation, type BcdType } from './primitives.ts';
import { asBytes, asNumber, asObject, type Obj } from './spec.ts';

/** Two BCD digits per byte → their value 0–99, or -1 when a nibble is not a digit (either nibble order). */
const bcdTable = (lowFirst: boolean) =>
  Int8Array.from({ length: 256 }, (_, byte) => {
    const [hi, lo] = lowFirst ? [byte & 15, byte >> 4] : [byte >> 4, byte & 15];
    return hi > 9 || lo > 9 ? -1 : hi * 10 + lo;
  });
const BCD_HIGH_FIRST = bcdTable(false);
const BCD_LOW_FIRST = bcdTable(true);

/** Upper-case hex text of each byte value, and the longest fixed-size `bytes` field read as text inline. */
const HEX_PAIRS = Array.from({ length: 256 }, (_, i) => hex2(i));
const MAX_INLINE_HEX = 8;

export abstract class BodyGen extends ContainerGen {
  /** The raw value expression (after emitting the statements that read it). */
  override body(f: Obj, kind: string, gs: GScope, loc: Loc, path: string, merge: boolean): string {
    const label = typeof f.name === 'string' ? f.name : kind;
    const b = loc.buf;
    const num = parseNumType(kind, (f.endian as string | undefined) ?? this.cx.endian, f.words, path);
    if (num) {
      const n = num.size;
      this.truncCheck(String(n), label, loc);
      const v = this.t('r');
      let read: string;
      if (num.kind === 'int' && n <= 4) {
        // Straight byte reads in the contract's byte/word order: big-endian byte i sits at perm[i].
        const perm = permutation(n, num.order);
        const u = perm.map((at, i) => `(${b}[p + ${at}] << ${8 * (n - 1 - i)})`).join(' | ');
        if (n === 4) read = num.signed ? `(${u})` : `((${u}) >>> 0)`;
        else read = num.signed ? `(((${u}) << ${32 - 8 * n}) >> ${32 - 8 * n})` : `(${u})`;
      } else read = `${this.f(makeNumReader(num))}(${b}, p)`;
      this.emit(`const ${v} = ${read}; p += ${n};`);
      return v;
    }
    switch (kind) {
      case 'value':
        return this.exprOf(f.value, gs, loc);
      case 'skip': {
        const n = this.size(f.size, label, gs, loc);
        this.emit(`p += ${n};`);
        return 'undefined';
      }
      case 'bytes': {
        const sizeSpec = f.size ?? (f.const !== undefined ? asBytes(f.const, '').length : undefined);
        const n = this.size(sizeSpec, label, gs, loc);
        const v = this.t('r');
        if (typeof sizeSpec === 'number' && sizeSpec >= 1 && sizeSpec <= MAX_INLINE_HEX) {
          // A fixed size (DL/T 645's address and identifier): the text from a per-byte table, inline
          // (the same text as H.hex, without its loop and call).
          const X = this.k(HEX_PAIRS);
          const at = [...Array(sizeSpec).keys()].map((i) => (f.reverse === true ? sizeSpec - 1 - i : i));
          this.emit(`const ${v} = '' + ${at.map((i) => `${X}[${b}[p + ${i}]]`).join(' + ')}; p += ${n};`);
          return v;
        }
        this.emit(`const ${v} = H.hex(${b}, p, p + ${n}, ${f.reverse === true}); p += ${n};`);
        return v;
      }
      case 'bcd': {
        const t: BcdType = {
          size: asNumber(f.size, ''),
          littleEndian: ((f.endian as string | undefined) ?? this.cx.endian) === 'little',
          lowNibbleFirst: f.nibbles === 'low-first',
          signed: f.signed === true,
        };
        this.truncCheck(String(t.size), label, loc);
        const v = this.t('r');
        if (!t.signed && t.size <= 6) {
          // Unsigned, at most 12 digits (exact): per byte a table gives its two digits' value, or -1 when
          // a nibble is not a digit; any -1 makes the OR of all of them negative.
          const table = this.k(t.lowNibbleFirst ? BCD_LOW_FIRST : BCD_HIGH_FIRST);
          const ds = [...Array(t.size).keys()].map((i) => {
            const x = this.tmp();
            return { x, read: `(${x} = ${table}[${b}[p + ${t.littleEndian ? t.size - 1 - i : i}]])` };
          });
          const value = ds.slice(1).reduce((acc, d) => `(${acc} * 100 + ${d.x})`, ds[0]!.x);
          this.emit(`const ${v} = (${ds.map((d) => d.read).join(' | ')}) < 0 ? NaN : ${value};`);
        } else this.emit(`const ${v} = H.bcd(${this.k(t)}, ${b}, p);`);
        this.emit(
          `if (${v} !== ${v}) H.fail(s, p, 'invalid', ${this.k(`'${label}' has a digit that is not BCD (`)} + H.hex(${b}, p, p + ${t.size}, ${t.littleEndian}) + ')');`,
        );
        this.emit(`p += ${t.size};`);
        if (f.format !== 'string') return v;
        const digits = t.size * 2 - (t.signed ? 1 : 0);
        return `String(Math.abs(${v})).padStart(${digits}, '0')`;
      }
      case 'flags': {
        // Same bits, names and key order as the closure plan (validated there); one object literal.
        const n = f.size === undefined ? 1 : asNumber(f.size, '');
        const little = ((f.endian as string | undefined) ?? this.cx.endian) === 'little';
        this.truncCheck(String(n), label, loc);
        let raw = '0';
        for (let i = 0; i < n; i++) raw = `(${raw} * 256 + ${b}[p + ${little ? n - 1 - i : i}])`;
        const r = this.t('r');
        this.emit(`const ${r} = ${raw}; p += ${n};`);
        const props = Object.entries(asObject(f.flags, '')).map(([bit, nm]) => {
          if (nm === '__proto__') throw new Unsupported('flag name');
          return `${this.ident(String(nm))}: ((${r} >>> ${this.num(Number(bit))}) & 1) === 1`;
        });
        return `{ ${props.join(', ')} }`;
      }
      case 'struct':
        return this.struct(f, gs, loc, path, merge, label);
      case 'switch':
        return this.switch(f, gs, loc, path, merge, label);
      case 'transform':
        return this.transform(f, gs, loc, path, merge, label);
    }
    throw new Unsupported(kind);
  }
}
