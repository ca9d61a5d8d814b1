// Expression and template emission for the code generator (codegen.ts states the safety rule):
// constants and helpers by index, names re-checked, numbers via String(number).
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
import type { CScope } from './layout.ts';
import { readBcd, toHexString } from './primitives.ts';
import { NeedBytes, type State } from './runtime.ts';
import { asNumber } from './spec.ts';

export const SAFE_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Run-time helpers the generated code calls (H.x). */
const HEX_BYTE = Array.from({ length: 256 }, (_, i) => '0x' + i.toString(16).toUpperCase().padStart(2, '0'));

export const H = {
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
  // The case label for a value that is not a number (its integer, or a text key's token); NaN
  // (matches no case) when there is none.
  intKey: (toCase: Map<string, unknown>, v: unknown) => toCase.get(String(v)) ?? Number.NaN,
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
    typeof v === 'number'
      ? width === 2 && v >= 0 && v < 256 && Number.isInteger(v)
        ? HEX_BYTE[v] // a table: control bytes are formatted on every frame
        : '0x' + v.toString(16).toUpperCase().padStart(width, '0')
      : v,
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

/** Most distinct heads and names one NameCache keeps; past them names are built per call, as before. */
const MAX_HEADS = 64;
const MAX_NAMES = 8192;
/** Largest integer tail a NameCache indexes (Modbus addresses are 0–65535). */
export const MAX_TAIL = 65535;

/**
 * Point names built from a string head, a constant middle and a small non-negative integer tail
 * (`table + '.' + (ctx.start + $index)`): one per generated site, passed by index in K. Each name is
 * built once and then read from a table indexed by the integer, so a frame's point names cost no
 * string concatenation. Strings are immutable, so sharing them between decodes changes nothing; the
 * table is bounded, and past its bounds names are built per call exactly as without it.
 */
export class NameCache {
  // Per head, 256 chunks of 256 names (tail >> 8, tail & 255), all arrays of fixed length created
  // with new Array: one element kind everywhere and never a sparse (dictionary) array, so the reads
  // stay fast in every contract that shares this code.
  private readonly byHead = new Map<string, Row>();
  private names = 0;
  // The last head's row: a site's head is usually the same string (one enum label) frame after frame,
  // and comparing it is cheaper than hashing it.
  // Read by the generated code too (see lookup()), so each site keeps its own inline caches.
  lastHead: string | undefined = undefined;
  lastRow: Row = newRow();
  constructor(
    private readonly mid: string,
    private readonly post = '',
  ) {}
  /** head + mid + String(tail) + post, for 0 <= tail <= MAX_TAIL an integer (checked by the caller). */
  get(head: string, tail: number): string {
    let row = head === this.lastHead ? this.lastRow : this.byHead.get(head);
    if (row === undefined) {
      if (this.byHead.size >= MAX_HEADS) return head + this.mid + tail + this.post;
      row = newRow();
      this.byHead.set(head, row);
    }
    this.lastHead = head;
    this.lastRow = row;
    const chunk = row[tail >> 8];
    const hit = chunk === undefined ? undefined : chunk[tail & 255];
    if (hit !== undefined) return hit;
    const name = head + this.mid + tail + this.post;
    if (this.names < MAX_NAMES) {
      (chunk ?? (row[tail >> 8] = newChunk()))[tail & 255] = name;
      this.names++;
    }
    return name;
  }
}
type Chunk = (string | undefined)[];
type Row = (Chunk | undefined)[];
const newChunk = (): Chunk => new Array<string | undefined>(256);
const newRow = (): Row => new Array<Chunk | undefined>(256);

/**
 * The same text as a string from V8's string table (property keys live there). The generated code
 * compares constants and labels with ===, and two such strings compare by address instead of by
 * content; strings from the YAML parser are not in the table.
 */
export const internalize = (s: string): string => Object.keys({ [s]: 0 })[0] ?? s;

export const hex2 = (v: number) => v.toString(16).toUpperCase().padStart(2, '0');

// Keys that plain objects, arrays, strings or functions inherit: these go through the checked H.idx path.
const INHERITED = new Set<string>(
  [Object.prototype, Array.prototype, String.prototype, Function.prototype].flatMap((p) =>
    Object.getOwnPropertyNames(p),
  ),
);
INHERITED.add('__proto__');

const NUMERIC_OPS = new Set(['-', '*', '/', '%', '**', '&', '|', '^', '<<', '>>', '>>>']);
const NUMERIC_SPECIALS = new Set(['$offset', '$length', '$remaining', '$index']);
/** True when `n` always evaluates to a number; `num` says which field names are known to hold one. */
export function isNumeric(n: Node, num: (name: string) => boolean = () => false): boolean {
  if (n.k === 'lit') return typeof n.v === 'number';
  if (n.k === 'id') return num(n.name);
  if (n.k === 'cond') return isNumeric(n.a, num) && isNumeric(n.b, num);
  if (n.k === 'bin')
    return NUMERIC_OPS.has(n.op) || (n.op === '+' && isNumeric(n.a, num) && isNumeric(n.b, num));
  if (n.k === 'un') return n.op !== '!';
  if (n.k === 'special') return NUMERIC_SPECIALS.has(n.name);
  if (n.k === 'call')
    return (
      n.fn === 'byte' || ['abs', 'floor', 'ceil', 'int', 'round', 'sqrt', 'len', 'num', 'bit'].includes(n.fn)
    );
  return false;
}
/** True when `n` always evaluates to a string; `str` says which field names are known to hold one. */
export function isString(n: Node, str: (name: string) => boolean = () => false): boolean {
  if (n.k === 'bin' && n.op === '+') return isString(n.a, str) || isString(n.b, str);
  if (n.k === 'id') return str(n.name);
  if (n.k === 'cond') return isString(n.a, str) && isString(n.b, str);
  return (
    (n.k === 'lit' && typeof n.v === 'string') || (n.k === 'call' && ['hex', 'str', 'substr'].includes(n.fn))
  );
}
export function isPlainString(n: Node): boolean {
  return (
    n.k === 'lit' && typeof n.v === 'string' && (n.v.trim() === '' ? n.v === '' : Number.isNaN(Number(n.v)))
  );
}

export interface GScope {
  cs: CScope;
  js: string; // the local holding this level's object
  up: GScope | null;
}

export interface Loc {
  buf: string; // buffer variable
  end: string; // end-of-range variable
  index?: string; // local holding $index inside a generated loop
  item?: string; // local holding $item inside a generated points loop
  value?: string; // local holding $value inside a valid check
}

export class Unsupported extends Error {}

/** What the compiler knows a field's local holds. */
export type ValueType = 'number' | 'string' | undefined;

export class GenBase {
  protected readonly K: unknown[] = [];
  protected readonly F: unknown[] = [];
  protected readonly out: string[] = [];
  protected n = 0;
  protected temps = 0;
  /** Whether some generated expression reads $value from the state (not from a local). */
  protected readsValue = false;
  /**
   * `ctx.<name>` reads, one local each, computed once per frame in the prologue: the context is not
   * changed while a frame decodes (expressions have no side effects), so the value is the same, and a
   * points loop no longer reads `ctx.names` and `ctx.start` again for every register. name → local.
   */
  protected readonly ctxReads = new Map<string, string>();
  /**
   * Inside a points loop: lines to run once before the loop (the generator puts them there), for
   * what does not change from one item to the next. null elsewhere.
   */
  protected hoist: string[] | null = null;
  /**
   * Field values held in locals of the generated code, newest last: a reference to a field reads the
   * local instead of the scope object, and knows whether it is a number. An entry with js null makes
   * the name unknown again (assigned in a block that has closed, or by a closure op).
   */
  private known: { gs: GScope; name: string; js: string | null; ty: ValueType }[] = [];

  /** Records that field `name` of scope `gs` now holds the value of local `js`. */
  setLocal(gs: GScope, name: string, js: string, ty: ValueType): void {
    this.known.push({ gs, name, js, ty });
  }
  /** Field `name` of `gs` was written where its local is not known (e.g. by a closure op). */
  forget(gs: GScope, name: string): void {
    this.known.push({ gs, name, js: null, ty: undefined });
  }
  /** Before a block: returns the mark to pass to leave() after it. */
  mark(): number {
    return this.known.length;
  }
  /** After a block: locals declared in it are out of scope, and the names it assigned are unknown. */
  leave(mark: number): void {
    for (const e of this.known.splice(mark)) this.known.push({ ...e, js: null });
  }
  local(gs: GScope, name: string): { js: string; ty: ValueType } | undefined {
    for (let i = this.known.length - 1; i >= 0; i--) {
      const e = this.known[i]!;
      if (e.gs === gs && e.name === name) return e.js === null ? undefined : { js: e.js, ty: e.ty };
    }
    return undefined;
  }
  /** The scope level that defines `name` (innermost first). */
  owner(name: string, gs: GScope): GScope | undefined {
    for (let g: GScope | null = gs; g; g = g.up) if (g.cs.names.has(name)) return g;
    return undefined;
  }
  numId(gs: GScope): (name: string) => boolean {
    return this.typeId(gs, 'number');
  }
  typeId(gs: GScope, ty: ValueType): (name: string) => boolean {
    return (name) => {
      const g = this.owner(name, gs);
      return g !== undefined && this.local(g, name)?.ty === ty;
    };
  }

  k(v: unknown): string {
    if (typeof v === 'string') v = internalize(v);
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
    const g = this.owner(name, gs);
    if (!g) throw new Unsupported(`unresolved ${name}`);
    const local = this.local(g, name);
    if (local) return local.js;
    if (!this.scopeReady(g)) throw new Unsupported('field read before its scope object exists');
    return `${g.js}.${this.ident(name)}`;
  }
  /** False while the fields of `g` are still only in locals (see Gen.flush). */
  scopeReady(_g: GScope): boolean {
    return true;
  }

  chain(gs: GScope): string {
    return gs.up ? `{ o: ${gs.js}, up: ${this.chain(gs.up)} }` : `{ o: ${gs.js}, up: null }`;
  }

  expr(node: Node, gs: GScope, loc: Loc): string {
    const e = (x: Node) => this.expr(x, gs, loc);
    const isNum = (x: Node) => isNumeric(x, this.numId(gs));
    const isStr = (x: Node) => isString(x, this.typeId(gs, 'string'));
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
            if (loc.value !== undefined) return loc.value;
            this.readsValue = true;
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
          if (node.o.k === 'special' && node.o.name === 'ctx' && SAFE_IDENT.test(node.key.v)) {
            let local = this.ctxReads.get(node.key.v);
            if (local === undefined) this.ctxReads.set(node.key.v, (local = `c${this.ctxReads.size}`));
            return local;
          }
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
        const cached = node.op === '+' ? this.cachedName(node, gs, loc) : undefined;
        if (cached !== undefined) return cached;
        const [a, b] = [e(node.a), e(node.b)];
        switch (node.op) {
          case '+':
            // A string on either side makes JS '+' concatenate, exactly like plus() does.
            if (isStr(node.a) || isStr(node.b)) return `(${a} + ${b})`;
            if (isNum(node.a) && isNum(node.b)) return `(${a} + ${b})`;
            if (isNum(node.b)) {
              const x = this.tmp();
              return `(typeof (${x} = ${a}) === 'number' ? ${x} + ${b} : H.plus(${x}, ${b}))`;
            }
            return `H.plus(${a}, ${b})`;
          case '==':
          case '!=': {
            // Against a non-numeric string literal, or between two numbers, loose equality is plain identity.
            const plain =
              isPlainString(node.a) ||
              isPlainString(node.b) ||
              (isNum(node.a) && isNum(node.b)) ||
              (isStr(node.a) && isStr(node.b)); // looseEq of two strings is ===
            const eq = plain ? `(${a} === ${b})` : `H.eq(${a}, ${b})`;
            return node.op === '==' ? eq : `(!${eq})`;
          }
          case '&&':
          case '||':
          case '??':
            return `(${a} ${node.op} ${b})`;
          default: // numbers need no conversion
            return `(${isNum(node.a) ? a : `(+${a})`} ${node.op} ${isNum(node.b) ? b : `(+${b})`})`;
        }
      }
    }
  }

  /**
   * A NameCache read for head `h` and tail `t` (locals): the last head's chunk is read inline, so the
   * element loads have this site's own inline caches (a shared method would see every contract's
   * arrays); a miss calls get(), which builds, stores and returns the name.
   */
  lookup(cache: NameCache, h: string, t: string): string {
    const [c, y] = [this.tmp(), this.tmp()];
    return `((${c} = ${this.k(cache)}).lastHead === ${h} && (${y} = ${c}.lastRow[${t} >> 8]) !== undefined && (${y} = ${y}[${t} & 255]) !== undefined ? ${y} : ${c}.get(${h}, ${t}))`;
  }

  /**
   * `head + 'lit' + … + 'lit' + tail` (one or more string literals in the middle; `head` may be absent):
   * when the head evaluates to a string and the tail to an integer 0–MAX_TAIL, the result comes from a
   * NameCache (same string: head + literals + String(tail)); otherwise the same JS '+' chain as without
   * it (a string literal on the left makes each '+' concatenate). undefined: not this shape.
   */
  cachedName(node: Node & { k: 'bin' }, gs: GScope, loc: Loc): string | undefined {
    const mids: string[] = [];
    let left: Node = node.a;
    while (left.k === 'bin' && left.op === '+' && left.b.k === 'lit' && typeof left.b.v === 'string') {
      mids.unshift(left.b.v);
      left = left.a;
    }
    const head: Node | undefined = left.k === 'lit' && typeof left.v === 'string' ? undefined : left;
    if (head === undefined) mids.unshift((left as { v: string }).v);
    if (mids.length === 0) return undefined; // no string literal before the tail
    const cache = new NameCache(mids.join(''));
    const mid = this.k(mids.join(''));
    if (this.hoist !== null && head?.k === 'id') return this.hoistedName(cache, mid, head, node.b, gs, loc);
    const [h, t] = [this.tmp(), this.tmp()];
    const hv = head === undefined ? this.k('') : h;
    const setH = head === undefined ? '' : `(${h} = ${this.expr(head, gs, loc)}), `;
    const isHeadStr = head === undefined ? '' : `typeof ${h} === 'string' && `;
    return `(${setH}(${t} = ${this.expr(node.b, gs, loc)}), ${isHeadStr}typeof ${t} === 'number' && (${t} >>> 0) === ${t} && ${t} <= ${MAX_TAIL} ? ${this.lookup(cache, hv, t)} : (${head === undefined ? mid : `(${h} + ${mid})`} + ${t}))`;
  }

  /**
   * cachedName in a points loop whose head is a field: fields do not change while points are made, so
   * the head and its cache row are read once before the loop, and each item only indexes the row.
   * Reading a field cannot throw, so reading it early changes no result. Same values as cachedName.
   */
  hoistedName(cache: NameCache, mid: string, head: Node, tail: Node, gs: GScope, loc: Loc): string {
    const c = this.k(cache);
    const [h, row] = [this.t('hd'), this.t('row')];
    this.hoist!.push(
      `const ${h} = ${this.expr(head, gs, loc)}; const ${row} = typeof ${h} === 'string' && ${c}.lastHead === ${h} ? ${c}.lastRow : null;`,
    );
    const [t, y] = [this.tmp(), this.tmp()];
    const int = `(${t} >>> 0) === ${t} && ${t} <= ${MAX_TAIL}`;
    return `((${t} = ${this.expr(tail, gs, loc)}), ${row} !== null && ${int} && (${y} = ${row}[${t} >> 8]) !== undefined && (${y} = ${y}[${t} & 255]) !== undefined ? ${y} : typeof ${h} === 'string' && typeof ${t} === 'number' && ${int} ? ${c}.get(${h}, ${t}) : ((${h} + ${mid}) + ${t}))`;
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
    const isStr = (x: Node) => isString(x, this.typeId(gs, 'string'));
    const [pre, x, post = ''] = parts;
    if (
      typeof pre === 'string' &&
      x !== undefined &&
      typeof x !== 'string' &&
      typeof post === 'string' &&
      parts.length <= 3
    ) {
      // 'text${n}' or 'text${n}text' with n a small non-negative integer: the name from a NameCache.
      const t = this.tmp();
      const cache = new NameCache(pre, post);
      const built = `${this.k(pre)} + ('' + ${t})${post === '' ? '' : ` + ${this.k(post)}`}`;
      return `((${t} = ${this.expr(x, gs, loc)}), typeof ${t} === 'number' && (${t} >>> 0) === ${t} && ${t} <= ${MAX_TAIL} ? ${this.lookup(cache, this.k(''), t)} : ${built})`;
    }
    const [h, mid, n, end = ''] = parts;
    if (
      typeof h !== 'string' &&
      typeof mid === 'string' &&
      n !== undefined &&
      typeof n !== 'string' &&
      typeof end === 'string' &&
      parts.length <= 4
    ) {
      // '${head}text${n}' or '${head}text${n}text', head a string at run time: as above, per head.
      const [th, tn] = [this.tmp(), this.tmp()];
      const cache = new NameCache(mid, end);
      const built = `'' + ${th} + ${this.k(mid)} + ('' + ${tn})${end === '' ? '' : ` + ${this.k(end)}`}`;
      return `((${th} = ${this.expr(h, gs, loc)}), (${tn} = ${this.expr(n, gs, loc)}), typeof ${th} === 'string' && typeof ${tn} === 'number' && (${tn} >>> 0) === ${tn} && ${tn} <= ${MAX_TAIL} ? ${this.lookup(cache, th, tn)} : ${built})`;
    }
    // '' + x converts like String(x) for every value a decoder produces, and is cheaper.
    const js = parts.map((p) =>
      typeof p === 'string'
        ? this.k(p)
        : isStr(p)
          ? this.expr(p, gs, loc)
          : `('' + ${this.expr(p, gs, loc)})`,
    );
    if (parts.length === 1)
      return js[0]!.startsWith("('' + ") || typeof parts[0] === 'string' || isStr(parts[0]!)
        ? js[0]!
        : `'' + ${js[0]}`;
    return typeof parts[0] === 'string' || isStr(parts[0]!) ? js.join(' + ') : `'' + ${js.join(' + ')}`;
  }
}
