// Generates one JavaScript decode function per contract, for speed. Safety rule: no string from the
// contract reaches the generated source. Field names are re-checked against the identifier pattern
// at emission; numbers are emitted with String(number); every other string (labels, units, messages,
// case keys) and every helper is passed in the K (constants) and F (functions) arrays and referenced
// by index. Anything the generator does not handle is compiled by the closure compiler and called.
import { DecodeFailure, DecodeReason } from './errors.ts';
import {
  FUNCTIONS,
  frameByte,
  looseEq,
  member,
  parseExpr,
  parseTemplate,
  plus,
  roundTo,
  type Node,
} from './expr.ts';
import { compileByteOps } from './containers.ts';
import { CONTAINERS, MAX_REPEAT, compileField, expandType, kindOf, type CScope, type Cx } from './layout.ts';
import type { Framing } from './framing.ts';
import { makeNumReader, parseNumType, readBcd, toHexString, type BcdType } from './primitives.ts';
import { NeedBytes, type State } from './runtime.ts';
import { asArray, asBytes, asNumber, asObject, normalizeKey, type Obj } from './spec.ts';

const SAFE_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Run-time helpers the generated code calls (H.x). */
const H = {
  fail(s: State, at: number, code: string, detail: string): never {
    throw new DecodeFailure(at + s.shift, code as DecodeReason, detail);
  },
  byte: frameByte,
  member,
  // Dot access with a key the compiler checked is not a property of any built-in prototype.
  dot: (o: unknown, k: string) =>
    typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : member(o, k),
  idx: (o: unknown, i: unknown) =>
    Array.isArray(o) && typeof i === 'number' && Number.isInteger(i) && i >= 0 ? o[i] : member(o, i),
  // Numbers look up by value (no string conversion); other values by their string form, like the closures.
  caseOf: (byNum: Map<number, number>, byStr: Map<string, number>, v: unknown) =>
    (typeof v === 'number' ? byNum.get(v) : byStr.get(String(v))) ?? -1,
  plus,
  eq: looseEq,
  round: roundTo,
  hex: toHexString,
  scalar: (v: unknown) => typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean',
  enumOf: (byNum: Map<number, unknown>, byStr: Map<string, unknown>, v: unknown) => {
    const hit = typeof v === 'number' ? byNum.get(v) : byStr.get(String(v));
    return hit === undefined ? v : hit;
  },
  hexFmt: (v: unknown, width: number) =>
    typeof v === 'number' ? '0x' + v.toString(16).toUpperCase().padStart(width, '0') : v,
  copy: (b: Uint8Array, from: number, to: number, ops: ((x: Uint8Array) => void)[]) => {
    const c = b.slice(from, to);
    for (const op of ops) op(c);
    return c;
  },
  bcd: readBcd,
  lengthUnreadable(s: State, err: unknown): never {
    if (err instanceof NeedBytes) H.fail(s, s.buf.length, 'truncated', 'frame too short to read its length');
    throw err;
  },
  hexN: (v: number, bytes: number) =>
    v
      .toString(16)
      .toUpperCase()
      .padStart(bytes * 2, '0'),
};

const hex2 = (v: number) => v.toString(16).toUpperCase().padStart(2, '0');

// Keys that plain objects, arrays, strings or functions inherit: these go through the checked H.idx path.
const INHERITED = new Set<string>(
  [Object.prototype, Array.prototype, String.prototype, Function.prototype].flatMap((p) =>
    Object.getOwnPropertyNames(p),
  ),
);
INHERITED.add('__proto__');

const NUMERIC_OPS = new Set(['-', '*', '/', '%', '**', '&', '|', '^', '<<', '>>', '>>>']);
const NUMERIC_SPECIALS = new Set(['$offset', '$length', '$remaining', '$index']);
function isNumeric(n: Node): boolean {
  if (n.k === 'lit') return typeof n.v === 'number';
  if (n.k === 'bin') return NUMERIC_OPS.has(n.op) || (n.op === '+' && isNumeric(n.a) && isNumeric(n.b));
  if (n.k === 'un') return n.op !== '!';
  if (n.k === 'special') return NUMERIC_SPECIALS.has(n.name);
  if (n.k === 'call')
    return (
      n.fn === 'byte' || ['abs', 'floor', 'ceil', 'int', 'round', 'sqrt', 'len', 'num', 'bit'].includes(n.fn)
    );
  return false;
}
function isString(n: Node): boolean {
  if (n.k === 'bin' && n.op === '+') return isString(n.a) || isString(n.b);
  return (
    (n.k === 'lit' && typeof n.v === 'string') || (n.k === 'call' && ['hex', 'str', 'substr'].includes(n.fn))
  );
}
function isPlainString(n: Node): boolean {
  return (
    n.k === 'lit' && typeof n.v === 'string' && (n.v.trim() === '' ? n.v === '' : Number.isNaN(Number(n.v)))
  );
}

interface GScope {
  cs: CScope;
  js: string; // the local holding this level's object
  up: GScope | null;
}

interface Loc {
  buf: string; // buffer variable
  end: string; // end-of-range variable
  index?: string; // local holding $index inside a generated loop
  item?: string; // local holding $item inside a generated points loop
}

class Unsupported extends Error {}

export class Gen {
  private readonly K: unknown[] = [];
  private readonly F: unknown[] = [];
  private readonly out: string[] = [];
  private n = 0;
  private temps = 0;

  constructor(private readonly cx: Cx) {}

  k(v: unknown): string {
    let i = this.K.indexOf(v);
    if (i < 0) i = this.K.push(v) - 1;
    return `K[${i}]`;
  }
  f(fn: unknown): string {
    return `F[${this.F.push(fn) - 1}]`;
  }
  t(prefix = 't'): string {
    return `${prefix}${this.n++}`;
  }
  /** A scratch variable, declared once at the top of the function. */
  tmp(): string {
    return `x${this.temps++}`;
  }
  emit(line: string): void {
    this.out.push(line);
  }
  num(v: unknown): string {
    const x = asNumber(v, '');
    return x < 0 ? `(${String(x)})` : String(x);
  }
  ident(name: string): string {
    if (!SAFE_IDENT.test(name)) throw new Unsupported(`unsafe name`);
    return name;
  }

  ref(name: string, gs: GScope): string {
    for (let g: GScope | null = gs; g; g = g.up)
      if (g.cs.names.has(name)) return `${g.js}.${this.ident(name)}`;
    throw new Unsupported(`unresolved ${name}`);
  }

  chain(gs: GScope): string {
    return gs.up ? `{ o: ${gs.js}, up: ${this.chain(gs.up)} }` : `{ o: ${gs.js}, up: null }`;
  }

  expr(node: Node, gs: GScope, loc: Loc): string {
    const e = (x: Node) => this.expr(x, gs, loc);
    switch (node.k) {
      case 'lit':
        if (typeof node.v === 'number') return this.num(node.v);
        if (typeof node.v === 'boolean') return node.v ? 'true' : 'false';
        if (node.v === undefined) return 'undefined';
        return this.k(node.v);
      case 'id':
        return this.ref(node.name, gs);
      case 'special':
        switch (node.name) {
          case 'ctx':
            return 'ctx';
          case '$offset':
            return '(p - s.base)';
          case '$length':
            return '(s.stop - s.base)';
          case '$remaining':
            return `(${loc.end} - p)`;
          case '$index':
            return loc.index ?? 's.index';
          case '$item':
            return loc.item ?? 's.item';
          default:
            return 's.value';
        }
      case 'un':
        if (node.op === '!') return `(!${e(node.a)})`;
        if (node.op === '~') return `(~${e(node.a)})`;
        return `(${node.op === '-' ? '-' : ''}(+${e(node.a)}))`;
      case 'cond':
        return `(${e(node.c)} ? ${e(node.a)} : ${e(node.b)})`;
      case 'member':
        if (node.key.k === 'lit' && typeof node.key.v === 'string' && !INHERITED.has(node.key.v)) {
          // Inline so each site keeps its own inline cache; the key passed SAFE_IDENT and is no inherited name.
          const x = this.tmp();
          if (SAFE_IDENT.test(node.key.v))
            return `((${x} = ${e(node.o)}) !== null && typeof ${x} === 'object' ? ${x}.${this.ident(node.key.v)} : H.member(${x}, ${this.k(node.key.v)}))`;
        }
        {
          const x = this.tmp();
          return `((${x} = ${e(node.o)}) === undefined ? undefined : H.idx(${x}, ${e(node.key)}))`;
        }
      case 'arr':
        return `[${node.items.map(e).join(', ')}]`;
      case 'call':
        return this.call(node.fn, node.args, e);
      case 'bin': {
        const [a, b] = [e(node.a), e(node.b)];
        switch (node.op) {
          case '+':
            // A string on either side makes JS '+' concatenate, exactly like plus() does.
            if (isString(node.a) || isString(node.b)) return `(${a} + ${b})`;
            if (isNumeric(node.a) && isNumeric(node.b)) return `(${a} + ${b})`;
            if (isNumeric(node.b)) {
              const x = this.tmp();
              return `(typeof (${x} = ${a}) === 'number' ? ${x} + ${b} : H.plus(${x}, ${b}))`;
            }
            return `H.plus(${a}, ${b})`;
          case '==':
          case '!=': {
            // Against a non-numeric string literal, or between two numbers, loose equality is plain identity.
            const plain =
              isPlainString(node.a) || isPlainString(node.b) || (isNumeric(node.a) && isNumeric(node.b));
            const eq = plain ? `(${a} === ${b})` : `H.eq(${a}, ${b})`;
            return node.op === '==' ? eq : `(!${eq})`;
          }
          case '&&':
          case '||':
          case '??':
            return `(${a} ${node.op} ${b})`;
          default:
            return `((+${a}) ${node.op} (+${b}))`;
        }
      }
    }
  }

  /** Common functions inline (same results as FUNCTIONS); the rest call the shared implementation. */
  call(fn: string, args: Node[], e: (x: Node) => string): string {
    const a = args.map(e);
    const lit = args[0]?.k === 'lit' ? args[0].v : undefined;
    switch (fn) {
      case 'byte':
        if (typeof lit === 'number' && Number.isInteger(lit) && lit >= 0) {
          const x = this.tmp();
          return `((${x} = s.base + ${lit}) < s.stop ? s.buf[${x}] : H.byte(s, ${lit}))`;
        }
        return `H.byte(s, +${a[0]})`;
      case 'substr':
        return `String(${a[0]}).substr(+${a[1]}${a[2] === undefined ? '' : `, +${a[2]}`})`;
      case 'abs':
      case 'floor':
      case 'ceil':
        return `Math.${fn}(+${a[0]})`;
      case 'int':
        return `Math.trunc(+${a[0]})`;
      case 'min':
      case 'max':
        return `Math.${fn}(${a.map((x) => `+${x}`).join(', ')})`;
      case 'round':
        return `H.round(+${a[0]}, ${a[1] === undefined ? '0' : `+${a[1]}`})`;
    }
    return `${this.f(FUNCTIONS[fn]!.fn)}([${a.join(', ')}])`;
  }

  has(gs: GScope): (name: string) => boolean {
    return (name) => {
      for (let g: GScope | null = gs; g; g = g.up) if (g.cs.names.has(name)) return true;
      return false;
    };
  }

  exprOf(src: unknown, gs: GScope, loc: Loc): string {
    return this.expr(parseExpr(src, '', this.has(gs)), gs, loc);
  }

  template(src: string, gs: GScope, loc: Loc): string {
    const parts = parseTemplate(src, '', this.has(gs));
    if (parts.length === 0) return this.k('');
    // '' + x converts like String(x) for every value a decoder produces, and is cheaper.
    const js = parts.map((p) =>
      typeof p === 'string'
        ? this.k(p)
        : isString(p)
          ? this.expr(p, gs, loc)
          : `('' + ${this.expr(p, gs, loc)})`,
    );
    if (parts.length === 1)
      return js[0]!.startsWith("('' + ") || typeof parts[0] === 'string' || isString(parts[0]!)
        ? js[0]!
        : `'' + ${js[0]}`;
    return typeof parts[0] === 'string' || isString(parts[0]!) ? js.join(' + ') : `'' + ${js.join(' + ')}`;
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

  field(spec: unknown, gs: GScope, loc: Loc, path: string): void {
    const { f, cx } = expandType(asObject(spec, path), path, this.cx);
    const kind = kindOf(f, path);
    const name = f.name as string | undefined;
    const merge = name === undefined && CONTAINERS.has(kind);
    const native =
      ['value', 'skip', 'bytes', 'bcd', 'struct', 'switch', 'transform'].includes(kind) ||
      parseNumType(kind, undefined, f.words, path);
    if (!native || kind === 'bits' || (kind === 'bytes' && f.format === 'array')) {
      this.fallback(spec, gs, loc, path, cx);
      return;
    }
    const cond = f.if === undefined ? undefined : this.exprOf(f.if, gs, loc);
    if (cond) this.emit(`if (${cond}) {`);
    if (merge) this.body(f, kind, gs, loc, path, true);
    else {
      const v =
        f.repeat !== undefined ? this.repeat(f, kind, gs, loc, path) : this.element(f, kind, gs, loc, path);
      if (name !== undefined) this.emit(`${gs.js}.${this.ident(name)} = ${v};`);
    }
    if (cond) this.emit('}');
    if (name !== undefined) gs.cs.names.add(name);
  }

  fallback(spec: unknown, gs: GScope, loc: Loc, path: string, cx: Cx): void {
    const op = compileField(spec, path, cx, gs.cs);
    if (loc.buf !== 'b') throw new Unsupported('fallback inside a transform');
    this.emit(`s.pos = p; s.end = ${loc.end}; s.sc = ${this.chain(gs)}; ${this.f(op)}(s); p = s.pos;`);
  }

  repeat(f: Obj, kind: string, gs: GScope, loc: Loc, path: string): string {
    const arr = this.t('a');
    const saved = this.t('i');
    this.emit(`const ${arr} = []; const ${saved} = s.index;`);
    if (f.repeat === 'until-end') {
      const at = this.t('at');
      this.emit(`while (p < ${loc.end}) { const ${at} = p; s.index = ${arr}.length;`);
      const v = this.element(f, kind, gs, loc, path);
      this.emit(`${arr}.push(${v});`);
      this.emit(
        `if (p === ${at}) H.fail(s, ${at}, 'invalid', ${this.k('repeated element consumed no bytes')}); }`,
      );
    } else {
      const c = this.t('c');
      this.emit(`const ${c} = +${this.exprOf(f.repeat, gs, loc)};`);
      this.emit(
        `if (!Number.isInteger(${c}) || ${c} < 0 || ${c} > ${MAX_REPEAT}) H.fail(s, p, 'invalid', ${this.k('repeat count ')} + ${c} + ${this.k(' out of range')});`,
      );
      const i = this.t('j');
      this.emit(`for (let ${i} = 0; ${i} < ${c}; ${i}++) { s.index = ${i};`);
      const v = this.element(f, kind, gs, { ...loc, index: i }, path);
      this.emit(`${arr}.push(${v}); }`);
    }
    this.emit(`s.index = ${saved};`);
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
      else this.emit(`s.value = ${v}; if (!(${this.exprOf(f.valid, gs, loc)})) ${bad};`);
    }
    const scale = f.scale === undefined ? 1 : asNumber(f.scale, '');
    const offset = f.offset === undefined ? 0 : asNumber(f.offset, '');
    if (scale !== 1 || offset !== 0 || f.decimals !== undefined) {
      const d = f.decimals ?? Math.max(0, Math.min(15, Math.ceil(-Math.log10(Math.abs(scale) || 1)) + 6));
      this.emit(
        `if (typeof ${v} === 'number') ${v} = H.round(${v} * ${this.num(scale)} + ${this.num(offset)}, ${this.num(d)});`,
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
      this.emit(`${v} = H.enumOf(${this.k(byNum)}, ${this.k(table)}, ${v});`);
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
          : this.template(f.point as string, gs, loc);
      const unit = f.unit === undefined ? '' : `, unit: ${this.template(f.unit as string, gs, loc)}`;
      this.emit(
        `if (typeof ${v} === 'number' || typeof ${v} === 'string' || typeof ${v} === 'boolean') { s.value = ${v}; s.points.push({ name: ${pname}, value: ${v}${unit} }); }`,
      );
    }
    return v;
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
      const le = num.order === 'DCBA';
      let read: string;
      if (num.kind === 'int' && n === 1) read = num.signed ? `((${b}[p] << 24) >> 24)` : `${b}[p]`;
      else if (num.kind === 'int' && n === 2 && (le || num.order === 'ABCD')) {
        const [hi, lo] = le ? ['p + 1', 'p'] : ['p', 'p + 1'];
        const u = `((${b}[${hi}] << 8) | ${b}[${lo}])`;
        read = num.signed ? `((${u} << 16) >> 16)` : u;
      } else if (num.kind === 'int' && n === 4 && (le || num.order === 'ABCD')) {
        const ix = le ? ['p + 3', 'p + 2', 'p + 1', 'p'] : ['p', 'p + 1', 'p + 2', 'p + 3'];
        const u = `((${b}[${ix[0]}] << 24) | (${b}[${ix[1]}] << 16) | (${b}[${ix[2]}] << 8) | ${b}[${ix[3]}])`;
        read = num.signed ? u : `(${u} >>> 0)`;
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
        this.emit(`const ${v} = H.bcd(${this.k(t)}, ${b}, p);`);
        this.emit(
          `if (${v} !== ${v}) H.fail(s, p, 'invalid', ${this.k(`'${label}' has a digit that is not BCD (`)} + H.hex(${b}, p, p + ${t.size}, ${t.littleEndian}) + ')');`,
        );
        this.emit(`p += ${t.size};`);
        if (f.format !== 'string') return v;
        const digits = t.size * 2 - (t.signed ? 1 : 0);
        return `String(Math.abs(${v})).padStart(${digits}, '0')`;
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
    this.emit(`{ const ${e} = p + ${n};`);
    inner({ ...loc, end: e });
    this.emit(`p = ${e}; }`);
  }

  scoped(gs: GScope, merge: boolean): { gs: GScope; v: string } {
    if (merge) return { gs, v: 'undefined' };
    const o = this.t('o');
    this.emit(`const ${o} = {};`);
    return { gs: { cs: { names: new Set(), up: gs.cs }, js: o, up: gs }, v: o };
  }

  struct(f: Obj, gs: GScope, loc: Loc, path: string, merge: boolean, label: string): string {
    const inner = this.scoped(gs, merge);
    if (f.size === undefined) this.seq(f.seq, inner.gs, loc, `${path}.seq`);
    else {
      const n = this.size(f.size, label, gs, loc);
      this.ranged(n, loc, (l) => this.seq(f.seq, inner.gs, l, `${path}.seq`));
    }
    return inner.v;
  }

  switch(f: Obj, gs: GScope, loc: Loc, path: string, merge: boolean, label: string): string {
    const key = this.t('k');
    this.emit(`const ${key} = ${this.exprOf(f.on, gs, loc)};`);
    const inner = this.scoped(gs, merge);
    // Case keys live in a Map (contract strings never enter the source); the switch runs on its index.
    const table = new Map<string, number>();
    const byNum = new Map<number, number>();
    this.emit(`switch (H.caseOf(${this.k(byNum)}, ${this.k(table)}, ${key})) {`);
    const caseBody = (body: unknown, p: string) => {
      this.emit('{');
      if (body !== null) {
        if (Array.isArray(body)) this.seq(body, inner.gs, loc, p);
        else this.field(body, inner.gs, loc, p);
      }
      this.emit('break; }');
    };
    Object.entries(asObject(f.cases, `${path}.cases`)).forEach(([k, body], i) => {
      table.set(k, i);
      if (!table.has(normalizeKey(k))) table.set(normalizeKey(k), i);
      const asNum = Number(normalizeKey(k));
      if (String(asNum) === normalizeKey(k) && !byNum.has(asNum)) byNum.set(asNum, i);
      this.emit(`case ${i}:`);
      caseBody(body, `${path}.cases.${k}`);
    });
    this.emit('default:');
    if (f.default === undefined)
      this.emit(`H.fail(s, p, 'invalid', ${this.k(`no case of '${label}' for `)} + ${key});`);
    else caseBody(f.default, `${path}.default`);
    this.emit('}');
    return inner.v;
  }

  transform(f: Obj, gs: GScope, loc: Loc, path: string, merge: boolean, label: string): string {
    if (loc.buf !== 'b') throw new Unsupported('nested transform');
    const ops = compileByteOps(f.ops, `${path}.ops`, false);
    const n = this.size(f.size, label, gs, loc);
    const inner = this.scoped(gs, merge); // declared outside the block below: it is the field's value
    const [start, tb] = [this.t('st'), 'tb'];
    this.emit(`{ const ${start} = p; const ${tb} = H.copy(b, p, p + ${n}, ${this.f(ops)});`);
    this.emit('const sBase = s.base, sStop = s.stop, sShift = s.shift;');
    this.emit(`s.buf = ${tb}; s.base = 0; s.stop = ${n}; s.shift += ${start}; p = 0;`);
    const e = this.t('e');
    this.emit(`const ${e} = ${n};`);
    this.seq(f.seq, inner.gs, { buf: tb, end: e }, `${path}.seq`);
    this.emit(`s.buf = b; s.base = sBase; s.stop = sStop; s.shift = sShift; p = ${start} + ${n}; }`);
    return inner.v;
  }

  point(spec: unknown, gs: GScope): void {
    const o = spec as Obj;
    const loc = { buf: 'b', end: 'E' };
    const body = (loc: Loc) => {
      const v = this.t('v');
      this.emit(`const ${v} = ${this.exprOf(o.value, gs, loc)};`);
      const unit = o.unit === undefined ? '' : `, unit: ${this.template(o.unit as string, gs, loc)}`;
      this.emit(
        `if (typeof ${v} === 'number' || typeof ${v} === 'string' || typeof ${v} === 'boolean') s.points.push({ name: ${this.template(o.name as string, gs, loc)}, value: ${v}${unit} });`,
      );
    };
    const cond = o.if === undefined ? undefined : this.exprOf(o.if, gs, loc);
    if (cond) this.emit(`if (${cond}) {`);
    if (o.each === undefined) body(loc);
    else {
      const [list, i] = [this.t('l'), this.t('j')];
      this.emit(`const ${list} = ${this.exprOf(o.each, gs, loc)};`);
      this.emit(
        `if (Array.isArray(${list})) for (let ${i} = 0; ${i} < ${list}.length; ${i}++) { const ${i}v = ${list}[${i}];`,
      );
      body({ ...loc, index: i, item: `${i}v` });
      this.emit('}');
    }
    if (cond) this.emit('}');
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
    const prologue = `const ctx = s.ctx;${temps.length ? ` let ${temps.join(', ')};` : ''}`;
    const body = `${prologue}\n${this.out.join('\n')}`;
    this.out.length = 0;
    this.temps = 0;
    return body;
  }

  build(seq: unknown, points: unknown[], trailing: boolean, fr: Framing): ((s: State) => void) | undefined {
    try {
      const top: GScope = { cs: { names: new Set(), up: null }, js: 'o0', up: null };
      this.framing(fr);
      this.emit('const o0 = s.sc.o; let p = base; const E = stop;');
      this.seq(seq, top, { buf: 'b', end: 'E' }, 'seq');
      this.emit('s.pos = p; s.sc = { o: o0, up: null };');
      if (!trailing) this.emit('if (p < E) return; // decode() reports the undescribed bytes');
      if (points.length > 0) this.emit('points(s, o0);');
      const decode = this.take();
      // Points get their own function: a smaller decode function optimises better.
      this.emit('const b = s.buf, p = s.pos, E = s.end;');
      for (const p of points) this.point(p, top);
      const pointsFn = this.take();
      // The source is assembled only from compiler-emitted tokens, numbers and K/F indexes (see top of file).
      const factory = new Function(
        'K',
        'F',
        'H',
        `"use strict";\nfunction points(s, o0) {\n${pointsFn}\n}\nreturn function decode(s) {\n${decode}\n};`,
      );
      return factory(this.K, this.F, H) as (s: State) => void;
    } catch (err) {
      if (err instanceof Unsupported) return undefined;
      throw err;
    }
  }
}
