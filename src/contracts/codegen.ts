// Generates one JavaScript decode function per contract, for speed. Safety rule: no string from the
// contract reaches the generated source. Field names are re-checked against the identifier pattern
// at emission; numbers are emitted with String(number); every other string (labels, units, messages,
// case keys) and every helper is passed in the K (constants) and F (functions) arrays and referenced
// by index. Anything the generator does not handle is compiled by the closure compiler and called.
import { compileByteOps } from './containers.ts';
import {
  H,
  Unsupported,
  hex2,
  internalize,
  isNumeric,
  isString,
  type GScope,
  type Loc,
  type ValueType,
  GenBase,
} from './codegen-expr.ts';
import { parseExpr } from './expr.ts';
import { CONTAINERS, MAX_REPEAT, compileField, expandType, kindOf, type Cx } from './layout.ts';
import type { Framing } from './framing.ts';
import { makeNumReader, parseNumType, permutation, toHexString, type BcdType } from './primitives.ts';
import { NeedBytes, type Scope, type State } from './runtime.ts';
import { DecodeFailure, DecodeReason } from './errors.ts';
import type { DecodeResult } from './types.ts';
import { asArray, asBytes, asNumber, asObject, normalizeKey, type Obj } from './spec.ts';

/** Whether a field spec (or a types table) declares a `point` anywhere inside it. */
function hasPointKey(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasPointKey);
  if (v === null || typeof v !== 'object') return false;
  return Object.entries(v).some(([k, x]) => (k === 'point' && x !== false) || hasPointKey(x));
}

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

/** Longest points list allocated at its full length up front (a longer one grows as it is filled). */
const MAX_PRESIZE = 1024;

// Field kinds whose element reads only bytes, locals and the context: no scope object is touched.
const SIMPLE = new Set(['value', 'skip', 'bytes', 'bcd', 'flags']);

export class Gen extends GenBase {
  /**
   * The fields of a structure level (the top level, a struct, a transform) that come before anything
   * that reads or writes its object are built as one object literal (one allocation with its final
   * shape, like a hand-written decoder) when the first such construct comes, or at the end of the
   * level: [name, local] in field order. Only the innermost level can be pending (a container field is
   * never simple, so its level is flushed before it opens). null once the object exists.
   */
  private pending: [string, string][] | null = null;
  private pendingGs: GScope | null = null;
  private top: GScope | null = null;
  /** K references (`K[i]`) of the context keys that have defaults. */
  private ctxKeys: string[] = [];
  /**
   * Whether code emitted so far may have made points (a field's `point`, a closure op). Until then
   * `pts` is certainly W.noPoints, and the first points rule allocates its array without asking.
   */
  private mayHavePoints = false;

  constructor(private readonly cx: Cx) {
    super();
  }

  override scopeReady(g: GScope): boolean {
    return g !== this.pendingGs || this.pending === null;
  }

  /** Creates the pending level's object from its fields (same keys, order and values as assigning them). */
  flush(): void {
    if (this.pending === null || this.pendingGs === null) return;
    // Always emitted in the straight-line code of its level, so it runs whenever the level completes.
    const lit = `{ ${this.pending.map(([n, v]) => `${this.ident(n)}: ${v}`).join(', ')} }`;
    if (this.pendingGs === this.top) this.emit(`o0 = ${lit};`);
    else this.emit(`${this.pendingGs.js} = ${lit};`);
    this.pending = null;
    this.pendingGs = null;
  }

  truncCheck(n: string, label: string, loc: Loc): void {
    this.emit(
      `if (p + ${n} > ${loc.end}) H.fail(s, p, 'truncated', ${this.k(`need ${n} bytes for '${label}'`)});`,
    );
  }

  /** size: number | 'rest' | expression → a local holding the byte count (checked against the range). */
  size(v: unknown, label: string, gs: GScope, loc: Loc): string {
    const t = this.t('n');
    if (v === undefined || v === 'rest') {
      this.emit(`const ${t} = ${loc.end} - p;`);
      return t;
    }
    this.emit(`const ${t} = ${typeof v === 'number' ? this.num(v) : `+${this.exprOf(v, gs, loc)}`};`);
    this.emit(
      `if (!Number.isInteger(${t}) || ${t} < 0) H.fail(s, p, 'invalid', ${this.k(`size of '${label}' is `)} + ${t});`,
    );
    this.emit(
      `if (p + ${t} > ${loc.end}) H.fail(s, p, 'truncated', ${this.k(`need `)} + ${t} + ${this.k(` bytes for '${label}'`)});`,
    );
    return t;
  }

  seq(list: unknown, gs: GScope, loc: Loc, path: string): void {
    asArray(list, path).forEach((f, i) => this.field(f, gs, loc, `${path}[${i}]`));
  }

  /** A field that is only read into a local (it can wait in a pending object literal). */
  simple(f: Obj, kind: string, path: string): boolean {
    return (
      !(kind === 'bytes' && f.format === 'array') &&
      f.if === undefined &&
      f.name !== '__proto__' &&
      (SIMPLE.has(kind) || parseNumType(kind, undefined, f.words, path) !== undefined)
    );
  }

  /**
   * An unnamed switch whose every case (and default) holds only simple fields: each case can build the
   * level's object itself, pending fields and its own in one literal, as a hand-written decoder builds
   * a Cayenne LPP item, instead of creating it before the switch and adding the case's fields to it.
   */
  literalPerCase(f: Obj, kind: string, merge: boolean, path: string): boolean {
    if (kind !== 'switch' || !merge || f.if !== undefined) return false;
    const bodies = Object.values(asObject(f.cases, `${path}.cases`));
    if (f.default !== undefined) bodies.push(f.default);
    return bodies.every((body) =>
      (body === null ? [] : Array.isArray(body) ? body : [body]).every((spec, i) => {
        const at = `${path}.cases[${i}]`;
        const { f: c } = expandType(asObject(spec, at), at, this.cx);
        return this.simple(c, kindOf(c, at), at);
      }),
    );
  }

  field(spec: unknown, gs: GScope, loc: Loc, path: string): void {
    const { f, cx } = expandType(asObject(spec, path), path, this.cx);
    const kind = kindOf(f, path);
    const name = f.name as string | undefined;
    const merge = name === undefined && CONTAINERS.has(kind);
    const native =
      ['value', 'skip', 'bytes', 'bcd', 'flags', 'struct', 'switch', 'transform'].includes(kind) ||
      parseNumType(kind, undefined, f.words, path);
    const fallback = !native || (kind === 'bytes' && f.format === 'array');
    if (gs === this.pendingGs && this.pending !== null) {
      const simple = !fallback && !merge && this.simple(f, kind, path);
      // What follows may read or write the level's object: it must exist first.
      if (!simple && !this.literalPerCase(f, kind, merge, path)) this.flush();
    }
    if (fallback) {
      this.fallback(spec, gs, loc, path, cx);
      return;
    }
    const cond = f.if === undefined ? undefined : this.exprOf(f.if, gs, loc);
    const m = this.mark();
    if (cond) this.emit(`if (${cond}) {`);
    if (merge) this.body(f, kind, gs, loc, path, true);
    else {
      const ty = f.repeat === undefined ? this.typeOf(f, kind, gs, path) : undefined;
      const v =
        f.repeat !== undefined ? this.repeat(f, kind, gs, loc, path) : this.element(f, kind, gs, loc, path);
      if (name !== undefined && gs === this.pendingGs && this.pending !== null) {
        this.pending.push([name, v]);
        this.setLocal(gs, name, v, ty);
      } else if (name !== undefined) {
        this.emit(`${gs.js}.${this.ident(name)} = ${v};`);
        // Later references read the local (and skip conversions when it is a number).
        this.setLocal(gs, name, v, ty);
      }
    }
    if (cond) {
      this.emit('}');
      this.leave(m);
    }
    if (name !== undefined) gs.cs.names.add(name);
  }

  fallback(spec: unknown, gs: GScope, loc: Loc, path: string, cx: Cx): void {
    // The closure op writes into this level's object exactly the names it declares at this level
    // (its own, or those of an unnamed container it merges): record them to forget their locals.
    const names = gs.cs.names;
    const written = new Set<string>();
    const add = names.add.bind(names);
    names.add = (n: string) => (written.add(n), add(n));
    let op;
    try {
      op = compileField(spec, path, cx, gs.cs);
    } finally {
      delete (names as { add?: unknown }).add;
    }
    if (loc.buf !== 'b') throw new Unsupported('fallback inside a transform');
    // The closure may push points into s.points: give it the frame's real array (see W.noPoints).
    if (hasPointKey(spec) || hasPointKey(cx.types)) this.mayHavePoints = true;
    this.emit(
      `if (pts === W.noPoints) pts = []; s.points = pts; s.pos = p; s.end = ${loc.end}; s.sc = ${this.chain(gs)}; ${this.f(op)}(s); p = s.pos;`,
    );
    for (const n of written) this.forget(gs, n);
  }

  /** Whether the value element() produces for `f` is always a number or always a string. */
  typeOf(f: Obj, kind: string, gs: GScope, path: string): ValueType {
    if (f.enum !== undefined) return undefined;
    const num = parseNumType(kind, (f.endian as string | undefined) ?? this.cx.endian, f.words, path);
    if (f.format === 'hex' && kind !== 'bytes' && kind !== 'bcd') return num ? 'string' : undefined;
    if (num) return num.kind === 'float' || num.size <= 6 ? 'number' : undefined; // u64 may be a string
    if (kind === 'bcd') return f.format === 'string' ? 'string' : 'number'; // a bad digit fails the decode
    if (kind === 'bytes') return 'string'; // hex text (format 'array' is a closure fallback)
    if (kind === 'value') {
      const node = parseExpr(f.value, '', this.has(gs));
      if (isNumeric(node, this.numId(gs))) return 'number';
      if (isString(node, this.typeId(gs, 'string'))) return 'string';
    }
    return undefined;
  }

  repeat(f: Obj, kind: string, gs: GScope, loc: Loc, path: string): string {
    const arr = this.t('a');
    const saved = this.t('i');
    const first = this.out.length;
    this.emit(`const ${saved} = s.index;`);
    const m = this.mark();
    let head: number;
    let bare: string; // the loop head without the s.index update
    if (f.repeat === 'until-end') {
      const at = this.t('at');
      this.emit(`const ${arr} = [];`);
      head = this.out.length;
      bare = `while (p < ${loc.end}) { const ${at} = p;`;
      this.emit(`${bare} s.index = ${arr}.length;`);
      const v = this.element(f, kind, gs, loc, path);
      this.emit(`${arr}.push(${v});`);
      this.emit(
        `if (p === ${at}) H.fail(s, ${at}, 'invalid', ${this.k('repeated element consumed no bytes')}); }`,
      );
    } else {
      const c = this.t('c');
      this.emit(`const ${c} = +${this.exprOf(f.repeat, gs, loc)};`);
      // (c | 0) === c is Number.isInteger within the range checked first, and cheaper.
      this.emit(
        `if (!(${c} >= 0 && ${c} <= ${MAX_REPEAT} && (${c} | 0) === ${c})) H.fail(s, p, 'invalid', ${this.k('repeat count ')} + ${c} + ${this.k(' out of range')});`,
      );
      // Sized up front (every slot is written before the array is used; a failure discards it), within
      // a bound so a bad count in a short frame allocates little.
      this.emit(`const ${arr} = ${c} <= 1024 ? new Array(${c}) : [];`);
      const i = this.t('j');
      head = this.out.length;
      bare = `for (let ${i} = 0; ${i} < ${c}; ${i}++) {`;
      this.emit(`${bare} s.index = ${i};`);
      const v = this.element(f, kind, gs, { ...loc, index: i }, path);
      this.emit(`${arr}[${i}] = ${v}; }`);
    }
    this.leave(m);
    // $index is a local in generated code; only closure ops (called with s) read s.index.
    if (this.out.slice(head + 1).some((l) => /F\[\d+\]\(s\)|s\.index/.test(l)))
      this.emit(`s.index = ${saved};`);
    else {
      this.out[head] = bare;
      this.out.splice(first, 1);
    }
    return arr;
  }

  /** One value with checks, scaling, enum, format and point; returns the local that holds it. */
  element(f: Obj, kind: string, gs: GScope, loc: Loc, path: string): string {
    const label = typeof f.name === 'string' ? f.name : kind;
    const at = this.t('at');
    this.emit(`const ${at} = p;`);
    const v = this.t('v');
    this.emit(`let ${v} = ${this.body(f, kind, gs, loc, path, false)};`);
    if (f.const !== undefined) {
      const want =
        kind === 'bytes'
          ? this.k(toHexString(asBytes(f.const, ''), 0, asBytes(f.const, '').length, false))
          : this.num(f.const);
      this.emit(
        `if (${v} !== ${want}) H.fail(s, ${at}, 'invalid', ${this.k(`'${label}' is `)} + ${v} + ${this.k(', expected ')} + ${want});`,
      );
    }
    if (f.valid !== undefined) {
      const bad = `H.fail(s, ${at}, 'invalid', ${this.k(`'${label}' = `)} + ${v} + ${this.k(' is not valid')})`;
      if (Array.isArray(f.valid)) this.emit(`if (!${this.k(new Set(f.valid))}.has(${v})) ${bad};`);
      else this.emit(`if (!(${this.exprOf(f.valid, gs, { ...loc, value: v })})) ${bad};`);
    }
    const scale = f.scale === undefined ? 1 : asNumber(f.scale, '');
    const offset = f.offset === undefined ? 0 : asNumber(f.offset, '');
    if (scale !== 1 || offset !== 0 || f.decimals !== undefined) {
      const d = f.decimals ?? Math.max(0, Math.min(15, Math.ceil(-Math.log10(Math.abs(scale) || 1)) + 6));
      const div = this.exactDivisor(f, kind, scale, offset, Number(d));
      if (div !== undefined) {
        // + 0: a signed BCD zero reads as -0, and the rounding path's `+ offset` turns it into 0.
        const z = kind === 'bcd' && f.signed === true ? ' + 0' : '';
        this.emit(div === 1 ? (z ? `${v} = ${v} + 0;` : '') : `${v} = ${v} / ${div}${z};`);
      } else
        this.emit(
          // roundTo(x, d) = Math.round(x * 10 ** d) / 10 ** d, with the power folded at compile time.
          `if (typeof ${v} === 'number') ${v} = Math.round((${v} * ${this.num(scale)} + ${this.num(offset)}) * ${this.num(10 ** Number(d))}) / ${this.num(10 ** Number(d))};`,
        );
    }
    if (f.enum !== undefined) {
      const table = new Map<string, unknown>();
      for (const [key, lab] of Object.entries(asObject(f.enum, ''))) {
        table.set(key, lab);
        if (!table.has(normalizeKey(key))) table.set(normalizeKey(key), lab);
      }
      const byNum = new Map<number, unknown>();
      for (const [key, lab] of table)
        if (String(Number(key)) === key && !byNum.has(Number(key))) byNum.set(Number(key), lab);
      const keys = [...byNum.keys()];
      if (keys.length > 0 && keys.every((n) => Number.isInteger(n) && n >= 0 && n <= 1023)) {
        // Small integer keys: a packed array indexed by the value (a non-index number reads undefined).
        const arr: unknown[] = Array.from({ length: Math.max(...keys) + 1 }, () => undefined);
        for (const [n, lab] of byNum) arr[n] = typeof lab === 'string' ? internalize(lab) : lab;
        const x = this.tmp();
        this.emit(
          `if (typeof ${v} === 'number') { if ((${x} = ${this.k(Object.freeze(arr))}[${v}]) !== undefined) ${v} = ${x}; } else ${v} = H.enumOf(${this.k(byNum)}, ${this.k(table)}, ${v});`,
        );
      } else this.emit(`${v} = H.enumOf(${this.k(byNum)}, ${this.k(table)}, ${v});`);
    }
    if (f.format === 'hex' && kind !== 'bytes' && kind !== 'bcd') {
      const width = (parseNumType(kind, undefined, undefined, '')?.size ?? 1) * 2;
      this.emit(`${v} = H.hexFmt(${v}, ${width});`);
    }
    if (f.point !== undefined && f.point !== false) {
      const name = f.name as string | undefined;
      const pname =
        f.point === true
          ? f.repeat === undefined
            ? this.k(name ?? 'value')
            : `${this.k(`${name}[`)} + ${loc.index ?? 's.index'} + ${this.k(']')}`
          : this.template(f.point as string, gs, { ...loc, value: v });
      const unit =
        f.unit === undefined ? '' : `, unit: ${this.template(f.unit as string, gs, { ...loc, value: v })}`;
      this.mayHavePoints = true;
      this.emit(
        `if (typeof ${v} === 'number' || typeof ${v} === 'string' || typeof ${v} === 'boolean') { s.value = ${v}; if (pts === W.noPoints) pts = []; pts.push({ name: ${pname}, value: ${v}${unit} }); }`,
      );
    }
    return v;
  }

  /**
   * D when `roundTo(raw * scale + offset, d)` equals `raw / D` for every raw value the field can read
   * (an integer: an inline integer read or a numeric BCD), so the generated code divides, as a
   * hand-written decoder does. Holds when offset = 0, scale is the double nearest 1/D, D divides 10^d
   * and m = |raw| · 10^d / D < 2^50: then raw · scale · 10^d is within 3 · 2^-53 · m < 0.5 of the
   * integer m, so Math.round gives m exactly, and m / 10^d and raw / D are both the correctly rounded
   * value of the same real number. (D = 1: rounding an integer to d decimals returns it.) A -0 raw
   * value (signed BCD) becomes 0 on the rounding path, through `+ offset`: the caller adds 0 too.
   */
  exactDivisor(f: Obj, kind: string, scale: number, offset: number, d: number): number | undefined {
    if (offset !== 0 || !Number.isInteger(d) || d < 0 || d > 15 || f.enum !== undefined) return undefined;
    let maxAbs: number;
    const num = parseNumType(kind, (f.endian as string | undefined) ?? this.cx.endian, f.words, '');
    if (num) {
      if (num.kind !== 'int' || num.size > 4) return undefined; // the reads inlined by body()
      maxAbs = 2 ** (8 * num.size);
    } else if (kind === 'bcd' && f.format !== 'string') maxAbs = 10 ** (2 * asNumber(f.size, ''));
    else return undefined;
    const D = Math.round(1 / scale);
    if (!(D >= 1 && 1 / D === scale && 10 ** d % D === 0 && maxAbs * (10 ** d / D) < 2 ** 50))
      return undefined;
    return D;
  }

  /** The raw value expression (after emitting the statements that read it). */
  body(f: Obj, kind: string, gs: GScope, loc: Loc, path: string, merge: boolean): string {
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

  /** Runs `inner` over a sub-range of `n` bytes, then moves past it. */
  ranged(n: string, loc: Loc, inner: (loc: Loc) => void): void {
    const e = this.t('e');
    const m = this.mark();
    this.emit(`{ const ${e} = p + ${n};`);
    inner({ ...loc, end: e });
    this.emit(`p = ${e}; }`);
    this.leave(m);
  }

  /** A new structure level; `deferred`: its object is built by flush() at the end of its straight-line seq. */
  scoped(gs: GScope, merge: boolean, deferred = false): { gs: GScope; v: string } {
    if (merge) return { gs, v: 'undefined' };
    const o = this.t('o');
    const inner: GScope = { cs: { names: new Set(), up: gs.cs }, js: o, up: gs };
    this.flush(); // (already done: the container field that opens this level is not simple)
    if (deferred) {
      this.emit(`let ${o};`);
      this.pending = [];
      this.pendingGs = inner;
    } else this.emit(`const ${o} = {};`);
    return { gs: inner, v: o };
  }

  struct(f: Obj, gs: GScope, loc: Loc, path: string, merge: boolean, label: string): string {
    if (f.size === undefined) {
      const inner = this.scoped(gs, merge, true);
      this.seq(f.seq, inner.gs, loc, `${path}.seq`);
      this.flush();
      return inner.v;
    }
    const n = this.size(f.size, label, gs, loc);
    const inner = this.scoped(gs, merge, true);
    this.ranged(n, loc, (l) => {
      this.seq(f.seq, inner.gs, l, `${path}.seq`);
      this.flush();
    });
    return inner.v;
  }

  switch(f: Obj, gs: GScope, loc: Loc, path: string, merge: boolean, label: string): string {
    const key = this.t('k');
    this.emit(`const ${key} = ${this.exprOf(f.on, gs, loc)};`);
    const inner = this.scoped(gs, merge);
    // Case keys live in a Map (contract strings never enter the source). The closure plan's lookup:
    // a number by value (byNum), anything else by its text (table: the key, then its normal form).
    const table = new Map<string, number>();
    const byNum = new Map<number, number>();
    const entries = Object.entries(asObject(f.cases, `${path}.cases`));
    entries.forEach(([k], i) => {
      table.set(k, i);
      if (!table.has(normalizeKey(k))) table.set(normalizeKey(k), i);
      const asNum = Number(normalizeKey(k));
      if (String(asNum) === normalizeKey(k) && !byNum.has(asNum)) byNum.set(asNum, i);
    });
    // Integer keys (and text keys that are not numbers at all): switch on a number's value itself, a
    // jump table with the numbers emitted by the compiler; text is mapped first to its case's integer,
    // or to a token object standing for a text key, which no number equals. The same case as the Map.
    const ints = entries.map(([k]) => Number(normalizeKey(k)));
    const isInt = (i: number) => String(ints[i]) === normalizeKey(entries[i]![0]);
    const direct =
      entries.every((_, i) => (isInt(i) ? Number.isSafeInteger(ints[i]) : Number.isNaN(ints[i]))) &&
      new Set(ints.filter((_, i) => isInt(i))).size === ints.filter((_, i) => isInt(i)).length;
    const tokens = entries.map((_, i) => (isInt(i) ? ints[i]! : Object.freeze({ case: i })));
    const caseLabel = direct ? tokens.map((t) => (typeof t === 'number' ? this.num(t) : this.k(t))) : [];
    if (direct) {
      const toCase = new Map<string, unknown>();
      for (const [text, i] of table) toCase.set(text, tokens[i]);
      this.emit(`switch (typeof ${key} === 'number' ? ${key} : H.intKey(${this.k(toCase)}, ${key})) {`);
    } else this.emit(`switch (H.caseOf(${this.k(byNum)}, ${this.k(table)}, ${key})) {`);
    // Still pending here only when literalPerCase() held: each case ends by building the object.
    const pending = gs === this.pendingGs && this.pending !== null ? [...this.pending] : null;
    const caseBody = (body: unknown, p: string) => {
      const m = this.mark();
      this.emit('{');
      if (body !== null) {
        if (Array.isArray(body)) this.seq(body, inner.gs, loc, p);
        else this.field(body, inner.gs, loc, p);
      }
      if (pending !== null) {
        this.flush();
        [this.pending, this.pendingGs] = [[...pending], gs];
      }
      this.emit('break; }');
      this.leave(m);
    };
    entries.forEach(([k, body], i) => {
      this.emit(`case ${direct ? caseLabel[i] : i}:`);
      caseBody(body, `${path}.cases.${k}`);
    });
    this.emit('default:');
    if (f.default === undefined)
      this.emit(`H.fail(s, p, 'invalid', ${this.k(`no case of '${label}' for `)} + ${key});`);
    else caseBody(f.default, `${path}.default`);
    this.emit('}');
    // Every case that does not fail has built the object.
    if (pending !== null) [this.pending, this.pendingGs] = [null, null];
    return inner.v;
  }

  transform(f: Obj, gs: GScope, loc: Loc, path: string, merge: boolean, label: string): string {
    if (loc.buf !== 'b') throw new Unsupported('nested transform');
    compileByteOps(f.ops, `${path}.ops`, false); // validates
    const n = this.size(f.size, label, gs, loc);
    const inner = this.scoped(gs, merge, true); // declared outside the block below: it is the field's value
    const [start, tb] = [this.t('st'), 'tb'];
    // Per-byte add/sub/xor become one expression; they do not depend on position, so any reverses
    // can be applied after them (an odd number of reverses = one).
    let byte = `b[${start} + i]`;
    let reverses = 0;
    for (const op of f.ops as Record<string, number | boolean>[]) {
      if (op.reverse !== undefined) reverses++;
      else if (op.xor !== undefined) byte = `(${byte} ^ ${this.num(op.xor)})`;
      else if (op.add !== undefined) byte = `((${byte} + ${this.num(op.add)}) & 255)`;
      else byte = `((${byte} + ${this.num(256 - Number(op.sub))}) & 255)`;
    }
    const m = this.mark();
    this.emit(`{ const ${start} = p; const ${tb} = new Uint8Array(${n});`);
    this.emit(`for (let i = 0; i < ${n}; i++) ${tb}[i] = ${byte};${reverses % 2 ? ` ${tb}.reverse();` : ''}`);
    this.emit('const sBase = s.base, sStop = s.stop, sShift = s.shift;');
    this.emit(`s.buf = ${tb}; s.base = 0; s.stop = ${n}; s.shift += ${start}; p = 0;`);
    const e = this.t('e');
    this.emit(`const ${e} = ${n};`);
    this.seq(f.seq, inner.gs, { buf: tb, end: e }, `${path}.seq`);
    this.flush();
    this.emit(`s.buf = b; s.base = sBase; s.stop = sStop; s.shift = sShift; p = ${start} + ${n}; }`);
    this.leave(m);
    return inner.v;
  }

  point(spec: unknown, gs: GScope): void {
    const o = spec as Obj;
    const loc = { buf: 'b', end: 'E' };
    const body = (loc: Loc, q?: string) => {
      const v = this.t('v');
      this.emit(`const ${v} = ${this.exprOf(o.value, gs, loc)};`);
      const unit = o.unit === undefined ? '' : `, unit: ${this.template(o.unit as string, gs, loc)}`;
      const point = `{ name: ${this.template(o.name as string, gs, loc)}, value: ${v}${unit} }`;
      this.emit(
        `if (typeof ${v} === 'number' || typeof ${v} === 'string' || typeof ${v} === 'boolean') ${q === undefined ? `{ if (pts === W.noPoints) pts = []; pts.push(${point}); }` : `pts[${q}++] = ${point}`};`,
      );
    };
    const cond = o.if === undefined ? undefined : this.exprOf(o.if, gs, loc);
    if (cond) this.emit(`if (${cond}) {`);
    if (o.each === undefined) body(loc);
    else {
      const [list, i] = [this.t('l'), this.t('j')];
      const q = this.t('q');
      this.emit(`const ${list} = ${this.exprOf(o.each, gs, loc)};`);
      // The first rule that makes points fills an array of the list's length (as a hand-written decoder
      // would) instead of growing one; a later rule appends at the end. Trimmed when some item was not
      // a scalar. The array is new for each frame (see W.noPoints).
      if (this.mayHavePoints) {
        this.emit(`if (Array.isArray(${list})) { let ${q} = pts.length;`);
        this.emit(
          `if (${q} === 0 && ${list}.length > 0 && ${list}.length <= ${MAX_PRESIZE}) pts = new Array(${list}.length); else if (pts === W.noPoints) pts = [];`,
        );
      } else {
        this.emit(`if (Array.isArray(${list})) { let ${q} = 0;`);
        this.emit(`pts = ${list}.length <= ${MAX_PRESIZE} ? new Array(${list}.length) : [];`);
      }
      // Names of the form `field + '.' + (… $index)` look up their cache row once, before the loop.
      const at = this.out.length;
      this.hoist = [];
      try {
        this.emit(`for (let ${i} = 0; ${i} < ${list}.length; ${i}++) { const ${i}v = ${list}[${i}];`);
        body({ ...loc, index: i, item: `${i}v` }, q);
      } finally {
        this.out.splice(at, 0, ...this.hoist);
        this.hoist = null;
      }
      this.emit(`} if (${q} < pts.length) pts.length = ${q}; }`);
    }
    if (cond) this.emit('}');
    this.mayHavePoints = true;
  }

  /** Same checks, order, offsets and reasons as Framing.check, as straight-line code. */
  framing(fr: Framing): void {
    const { startM, endM, length, min, max } = fr.plan;
    const none: GScope = { cs: { names: new Set(), up: null }, js: 'o0', up: null };
    const loc = { buf: 'b', end: 'b.length' };
    this.emit('const b = s.buf; let base = 0;');
    if (fr.prefixByte >= 0)
      this.emit(
        `while (base < ${fr.prefixMax} && base < b.length - 1 && b[base] === ${fr.prefixByte}) base++;`,
      );
    this.emit('s.base = base; s.pos = base;');
    if (startM) {
      this.emit(
        `if (b.length - base < ${startM.length}) H.fail(s, b.length, 'truncated', ${this.k('frame too short for its start marker')});`,
      );
      startM.forEach((m, i) =>
        this.emit(
          `if (b[base + ${i}] !== ${m}) H.fail(s, base + ${i}, 'framing', ${this.k(`start marker 0x${hex2(m)} not found`)});`,
        ),
      );
    }
    this.emit('let stop = b.length; s.stop = stop;');
    if (length !== undefined) {
      this.emit(
        `let total; try { total = +${this.exprOf(length, none, loc)}; } catch (err) { H.lengthUnreadable(s, err); }`,
      );
      this.emit(
        `if (!Number.isInteger(total) || total < 1) H.fail(s, base, 'length', ${this.k('frame length ')} + total + ${this.k(' is not valid')});`,
      );
      this.emit(
        `if (base + total > b.length) H.fail(s, b.length, 'truncated', ${this.k('frame needs ')} + total + ${this.k(' bytes, has ')} + (b.length - base));`,
      );
      this.emit(
        `if (base + total < b.length) H.fail(s, base + total, 'length', (b.length - base - total) + ${this.k(' bytes after the end of the frame')});`,
      );
      this.emit('stop = base + total;');
    }
    this.emit(
      `if (stop - base < ${min}) H.fail(s, stop, 'truncated', ${this.k(`frame needs at least ${min} bytes, has `)} + (stop - base));`,
    );
    this.emit(
      `if (stop - base > ${max}) H.fail(s, base + ${max}, 'length', ${this.k(`frame longer than ${max} bytes`)});`,
    );
    this.emit('s.stop = stop; s.end = stop;');
    if (endM) {
      this.emit(
        `if (stop - base < ${endM.length + (startM?.length ?? 0)}) H.fail(s, stop, 'truncated', ${this.k('frame too short for its end marker')});`,
      );
      endM.forEach((m, i) =>
        this.emit(
          `if (b[stop - ${endM.length - i}] !== ${m}) H.fail(s, stop - ${endM.length - i}, 'framing', ${this.k(`end marker 0x${hex2(m)} not found`)});`,
        ),
      );
    }
    for (const c of fr.checksums) {
      const at = (off: number) => (off < 0 ? `(stop - ${-off})` : `(base + ${off})`);
      const [from, to, pos, n] = [this.t('cf'), this.t('ct'), this.t('ca'), c.alg.size];
      this.emit(`const ${from} = ${at(c.from)}, ${to} = ${at(c.to)}, ${pos} = ${at(c.at)};`);
      this.emit(
        `if (${from} < base || ${to} > stop || ${from} > ${to} || ${pos} < base || ${pos} + ${n} > stop) H.fail(s, stop, 'truncated', ${this.k(`frame too short for checksum '${c.name}'`)});`,
      );
      let stored = '0';
      for (let i = 0; i < n; i++) stored = `(${stored} * 256 + b[${pos} + ${c.little ? n - 1 - i : i}])`;
      const [want, got] = [this.t('cw'), this.t('cg')];
      this.emit(`const ${want} = ${this.f(c.alg.compute)}(b, ${from}, ${to}), ${got} = ${stored};`);
      this.emit(
        `if (${want} !== ${got}) H.fail(s, ${pos}, 'checksum', ${this.k(`'${c.name}' is 0x`)} + H.hexN(${got}, ${n}) + ${this.k(', computed 0x')} + H.hexN(${want}, ${n}));`,
      );
    }
  }

  /** The body emitted so far, with its prologue (context and scratch variables); starts a new body. */
  private take(): string {
    const temps = [...Array(this.temps).keys()].map((i) => `x${i}`);
    const reads = [...this.ctxReads].map(
      ([key, local]) =>
        ` const ${local} = ctx !== null && typeof ctx === 'object' ? ctx.${this.ident(key)} : H.member(ctx, ${this.k(key)});`,
    );
    this.ctxReads.clear();
    const prologue = `const ctx = s.ctx;${reads.join('')} let pts = W.noPoints;${temps.length ? ` let ${temps.join(', ')};` : ''}`;
    const body = `${prologue}\n${this.out.join('\n')}`;
    this.out.length = 0;
    this.temps = 0;
    return body;
  }

  /**
   * The contract's whole decode entry (state reset, context defaults, `try`, result objects) is
   * generated per contract, so no call site on the hot path is shared by all contracts: shared code
   * collects every contract's feedback and is optimised less well for each. `ctxKeys` are the context
   * keys with defaults (validated identifiers, referenced through K by index like any other string).
   */
  build(
    seq: unknown,
    points: unknown[],
    trailing: boolean,
    fr: Framing,
    ctxKeys: readonly string[] = [],
  ): { source: string; entry: EntryFactory } | undefined {
    this.ctxKeys = ctxKeys.map((k) => this.k(k));
    try {
      const top: GScope = { cs: { names: new Set(), up: null }, js: 'o0', up: null };
      this.framing(fr);
      this.emit('let o0; let p = base; const E = stop;');
      this.top = top;
      this.pendingGs = top;
      this.pending = [];
      this.seq(seq, top, { buf: 'b', end: 'E' }, 'seq');
      this.flush();
      this.emit('s.pos = p;');
      if (!trailing) this.emit('if (p < E) return undefined; // the entry reports the undescribed bytes');
      for (const p of points) this.point(p, top);
      // The result is made here, from locals: storing this frame's new objects into the long-lived
      // state (s.points, a scope's o) costs a write barrier each, which shows on small frames.
      this.emit(`return { ok: true, fields: o0, points: pts === W.noPoints ? [] : pts };`);
      let decode = this.take();
      // s.value mirrors the closure plan for a $value read outside a check or point; none: drop the stores.
      if (!this.readsValue) decode = decode.replace(/ s\.value = v\d+;/g, '');
      // The source is assembled only from compiler-emitted tokens, numbers and K/F indexes (see top of file).
      const source = `"use strict";\nconst decode = function decode(s) {\n${decode}\n};\n${entry(trailing, this.ctxKeys)}`;
      const factory = new Function('K', 'F', 'H', 'W', source);
      return { source, entry: factory(this.K, this.F, H, W) as EntryFactory };
    } catch (err) {
      if (err instanceof Unsupported) return undefined;
      throw err;
    }
  }
}

/** What the entry needs from its contract: state and top scope, context defaults; see `entry`. */
export type EntryFactory = (
  state: State,
  top: Scope,
  defaults: Record<string, unknown> | undefined,
  empty: Record<string, unknown>,
) => (frame: Uint8Array, context?: Record<string, unknown>) => DecodeResult;

/** Error classes and fixed reasons of the entry (the same texts `CompiledContract` builds). */
const W = {
  DecodeFailure,
  NeedBytes,
  notBytes: `${DecodeReason.invalid}: the frame is not bytes`,
  undescribed: ' bytes not described by the contract',
  truncated: `${DecodeReason.truncated}: byte(`,
  pastEnd: ') is past the end of the frame',
  invalid: `${DecodeReason.invalid}: `,
  /**
   * s.points until the frame makes its first point: a presized points rule then allocates the one
   * array of its final length (no empty array made per frame only to be replaced); every other writer
   * swaps in [] first. Frozen, so a writer that missed the swap fails loudly instead of sharing state.
   */
  noPoints: Object.freeze([]) as readonly never[],
};

/**
 * Source of the per-contract decode entry (the same steps and results as the closure plan's
 * `CompiledContract.decode`). Only fixed text; `ctxKeys` are K references.
 */
function entry(trailing: boolean, ctxKeys: readonly string[]): string {
  const ctx =
    ctxKeys.length === 0
      ? 'context === undefined ? empty : context'
      : `context === undefined ? defaults : (${ctxKeys.map((i) => `context[${i}] === undefined`).join(' || ')}) ? { ...defaults, ...context } : context`;
  return `return function entryFactory(s, top, defaults, empty) {
  return function decodeFrame(frame, context) {
    if (!(frame instanceof Uint8Array)) return { ok: false, error: { offset: 0, reason: W.notBytes } };
    s.buf = frame; s.base = 0; s.stop = frame.length; s.pos = 0; s.end = frame.length; s.shift = 0;
    s.sc = top; s.ctx = ${ctx}; s.index = 0; s.item = undefined; s.value = undefined; s.points = W.noPoints;
    try {
      const done = decode(s);
      ${trailing ? 'return done;' : 'return done !== undefined ? done : { ok: false, error: { offset: s.pos, reason: `length: ${s.end - s.pos}` + W.undescribed } };'}
    } catch (e) {
      if (e instanceof W.DecodeFailure) return { ok: false, error: { offset: e.offset, reason: e.reason } };
      if (e instanceof W.NeedBytes) return { ok: false, error: { offset: s.stop, reason: W.truncated + (e.total - 1) + W.pastEnd } };
      return { ok: false, error: { offset: s.pos, reason: W.invalid + (e?.message ?? String(e)) } };
    }
  };
};`;
}
