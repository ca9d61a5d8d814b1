// Compiles the `seq` of a contract into a plan of closures that decode a frame into fields and points.
import { ContractError, DecodeFailure, DecodeReason } from './errors.ts';
import { compileExpr, compileTemplate, roundTo, type NameResolver } from './expr.ts';
import { makeNumReader, parseNumType, readBcd, toHexString, type BcdType } from './primitives.ts';
import type { Scope, State } from './runtime.ts';
import {
  asArray,
  asBytes,
  asIdent,
  asInt,
  asNumber,
  asObject,
  asString,
  checkKeys,
  normalizeKey,
  type Obj,
} from './spec.ts';

export type Op = (s: State) => void;
export type Reader = (s: State) => unknown;

/** Compile-time view of the names a structure level defines, for "defined before use" checks. */
export interface CScope {
  names: Set<string>;
  up: CScope | null;
}

export interface Cx {
  types: Obj;
  endian: 'big' | 'little';
  depth: number;
  /** The nesting types' compilers (containers.ts), handed in because they call back into compileField. */
  containers: ContainerCompilers;
}

type ContainerCompiler = (f: Obj, path: string, cx: Cx, sc: CScope, merge: boolean, label: string) => Reader;

/**
 * A container holds fields and a field may be a container, so the two compilers recurse into each
 * other; passing the containers' side in through `Cx` keeps the two files from importing each other.
 */
export interface ContainerCompilers {
  bits: ContainerCompiler;
  switch: ContainerCompiler;
  transform: ContainerCompiler;
  tlv: (f: Obj, path: string, cx: Cx, sc: CScope, label: string) => Reader;
}

export const MAX_REPEAT = 100_000;
const MAX_TYPE_DEPTH = 16;

const FIELD_KEYS = new Set([
  'name',
  'type',
  'if',
  'repeat',
  'size',
  'endian',
  'words',
  'const',
  'valid',
  'scale',
  'offset',
  'decimals',
  'unit',
  'enum',
  'point',
  'format',
  'reverse',
  'encoding',
  'signed',
  'nibbles',
  'bits',
  'fields',
  'flags',
  'count',
  'seq',
  'on',
  'cases',
  'default',
  'ops',
  'tag',
  'length',
  'value',
  'description',
  'order',
]);
export const CONTAINERS = new Set(['struct', 'switch', 'transform', 'bits']);

export function fail(s: State, at: number, code: DecodeReason, detail: string): never {
  throw new DecodeFailure(at + s.shift, code, detail);
}

export function resolverFor(sc: CScope): NameResolver {
  return (name) => {
    let hops = 0;
    for (let c: CScope | null = sc; c; c = c.up, hops++) {
      if (!c.names.has(name)) continue;
      if (hops === 0) return (s) => s.sc.o[name];
      if (hops === 1) return (s) => (s.sc.up as Scope).o[name];
      const h = hops;
      return (s) => {
        let x = s.sc;
        for (let i = 0; i < h; i++) x = x.up as Scope;
        return x.o[name];
      };
    }
    return undefined;
  };
}

export function compileSeq(list: unknown, path: string, cx: Cx, sc: CScope): Op {
  const ops = asArray(list, path).map((f, i) => compileField(f, `${path}[${i}]`, cx, sc));
  const n = ops.length;
  if (n === 0) return () => {};
  if (n === 1) return ops[0]!;
  if (n === 2) {
    const [a, b] = ops as [Op, Op];
    return (s) => {
      a(s);
      b(s);
    };
  }
  return (s) => {
    for (let i = 0; i < n; i++) ops[i]!(s);
  };
}

/** Inlines a reusable type: `{ name: x, type: myType, unit: V }` = types.myType with the field's keys on top. */
export function expandType(f: Obj, path: string, cx: Cx): { f: Obj; cx: Cx } {
  let cur = f;
  let c = cx;
  while (typeof cur.type === 'string' && Object.hasOwn(cx.types, cur.type)) {
    if (c.depth >= MAX_TYPE_DEPTH)
      throw new ContractError(`${path}.type`, `type '${cur.type}' nests too deeply (recursive?)`);
    const base = asObject(cx.types[cur.type], `types.${cur.type}`);
    const { type: _t, ...rest } = cur;
    cur = { ...base, ...rest };
    c = { ...c, depth: c.depth + 1 };
  }
  return { f: cur, cx: c };
}

export function kindOf(f: Obj, path: string): string {
  if (typeof f.type === 'string') return f.type;
  if (f.type !== undefined) throw new ContractError(`${path}.type`, 'expected a type name');
  if (f.ops !== undefined) return 'transform';
  if (f.on !== undefined) return 'switch';
  if (f.seq !== undefined) return 'struct';
  if (f.value !== undefined) return 'value';
  if (f.const !== undefined) return typeof f.const === 'number' ? 'u8' : 'bytes';
  if (f.size !== undefined) return 'skip';
  throw new ContractError(path, 'field needs a type (or seq, on, ops, value, const or size)');
}

export function compileField(spec: unknown, path: string, cx0: Cx, sc: CScope): Op {
  const { f, cx } = expandType(asObject(spec, path), path, cx0);
  checkKeys(f, FIELD_KEYS, path);
  const name = f.name === undefined ? undefined : asIdent(f.name, `${path}.name`);
  const kind = kindOf(f, path);
  const resolve = resolverFor(sc);
  const cond = f.if === undefined ? undefined : compileExpr(f.if, `${path}.if`, resolve);
  const merge = name === undefined && CONTAINERS.has(kind);
  if (f.repeat !== undefined && name === undefined)
    throw new ContractError(`${path}.repeat`, 'a repeated field needs a name');

  let op: Op;
  if (merge) {
    const r = compileBody(f, kind, path, cx, sc, true);
    op = (s) => void r(s);
  } else {
    let elem = compileElement(f, kind, path, cx, sc, name);
    if (f.repeat !== undefined) elem = compileRepeat(f.repeat, `${path}.repeat`, resolve, elem);
    if (name === undefined) op = (s) => void elem(s);
    else {
      const key = name;
      op = (s) => {
        s.sc.o[key] = elem(s);
      };
    }
  }
  if (name !== undefined) sc.names.add(name);
  if (!cond) return op;
  const inner = op;
  return (s) => {
    if (cond(s)) inner(s);
  };
}

/** One value: the body plus checks, scaling, enum and point emission. */
function compileElement(
  f: Obj,
  kind: string,
  path: string,
  cx: Cx,
  sc: CScope,
  name: string | undefined,
): Reader {
  const resolveSelf = resolverFor(sc);
  const body = compileBody(f, kind, path, cx, sc, false);
  const checks = compileChecks(f, kind, path, resolveSelf, name);
  const post = compileValueOptions(f, path);
  let r: Reader = body;
  if (checks) {
    const b = body;
    r = (s) => {
      const at = s.pos;
      const v = b(s);
      checks(s, v, at);
      return v;
    };
  }
  if (post) {
    const b = r;
    r = (s) => post(b(s));
  }
  if (f.point !== undefined && f.point !== false) {
    const pointName =
      f.point === true
        ? (s: State) => (f.repeat === undefined ? (name ?? 'value') : `${name}[${s.index}]`)
        : compileTemplate(asString(f.point, `${path}.point`), `${path}.point`, resolveSelf);
    const unit =
      f.unit === undefined
        ? undefined
        : compileTemplate(asString(f.unit, `${path}.unit`), `${path}.unit`, resolveSelf);
    const b = r;
    r = (s) => {
      const v = b(s);
      if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') {
        s.value = v;
        const p: { name: string; value: number | string | boolean; unit?: string } = {
          name: String(pointName(s)),
          value: v,
        };
        if (unit) p.unit = String(unit(s));
        s.points.push(p);
      }
      return v;
    };
  }
  return r;
}

function compileChecks(
  f: Obj,
  kind: string,
  path: string,
  resolve: NameResolver,
  name: string | undefined,
): ((s: State, v: unknown, at: number) => void) | undefined {
  const label = name ?? kind;
  let constCheck: ((s: State, v: unknown, at: number) => void) | undefined;
  if (f.const !== undefined) {
    if (kind === 'bytes') {
      const hex = toHexString(
        asBytes(f.const, `${path}.const`),
        0,
        asBytes(f.const, `${path}.const`).length,
        false,
      );
      constCheck = (s, v, at) => {
        if (v !== hex) fail(s, at, DecodeReason.invalid, `'${label}' is ${String(v)}, expected ${hex}`);
      };
    } else {
      const want = asNumber(f.const, `${path}.const`);
      constCheck = (s, v, at) => {
        if (v !== want) fail(s, at, DecodeReason.invalid, `'${label}' is ${String(v)}, expected ${want}`);
      };
    }
  }
  let validCheck: ((s: State, v: unknown, at: number) => void) | undefined;
  if (f.valid !== undefined) {
    if (Array.isArray(f.valid)) {
      const allowed = new Set(
        f.valid.map((x, i) => (typeof x === 'string' ? x : asNumber(x, `${path}.valid[${i}]`))),
      );
      validCheck = (s, v, at) => {
        if (!allowed.has(v as string))
          fail(s, at, DecodeReason.invalid, `'${label}' = ${String(v)} is not valid`);
      };
    } else {
      const g = compileExpr(f.valid, `${path}.valid`, resolve);
      validCheck = (s, v, at) => {
        s.value = v;
        if (!g(s)) fail(s, at, DecodeReason.invalid, `'${label}' = ${String(v)} is not valid`);
      };
    }
  }
  if (constCheck && validCheck) {
    const a = constCheck;
    const b = validCheck;
    return (s, v, at) => {
      a(s, v, at);
      b(s, v, at);
    };
  }
  return constCheck ?? validCheck;
}

/** scale, offset, decimals, enum, format: applied to numbers after checks. */
export function compileValueOptions(f: Obj, path: string): ((v: unknown) => unknown) | undefined {
  const scale = f.scale === undefined ? 1 : asNumber(f.scale, `${path}.scale`);
  const offset = f.offset === undefined ? 0 : asNumber(f.offset, `${path}.offset`);
  const decimals = f.decimals === undefined ? undefined : asInt(f.decimals, `${path}.decimals`, 0, 15);
  const steps: ((v: unknown) => unknown)[] = [];
  if (scale !== 1 || offset !== 0 || decimals !== undefined) {
    // Rounding to the declared (or scale-implied) decimals removes float noise: 26 * 0.01 = 0.26, not 0.26000000000000001.
    const d = decimals ?? Math.max(0, Math.min(15, Math.ceil(-Math.log10(Math.abs(scale) || 1)) + 6));
    steps.push((v) => (typeof v === 'number' ? roundTo(v * scale + offset, d) : v));
  }
  if (f.enum !== undefined) {
    const table = new Map<string, unknown>();
    for (const [k, label] of Object.entries(asObject(f.enum, `${path}.enum`))) {
      table.set(k, label); // '00010000' (a string value) and 16 ('0x10' or '16') both match
      if (!table.has(normalizeKey(k))) table.set(normalizeKey(k), label);
    }
    steps.push((v) => {
      const hit = table.get(String(v));
      return hit === undefined ? v : hit;
    });
  }
  if (f.format !== undefined && f.format !== 'hex' && f.format !== 'string' && f.format !== 'array')
    throw new ContractError(`${path}.format`, "expected 'hex', 'string' or 'array'");
  if (f.format === 'hex' && !['bytes', 'bcd'].includes(String(f.type))) {
    const width =
      typeof f.type === 'string' ? (parseNumType(f.type, undefined, undefined, path)?.size ?? 1) * 2 : 2;
    steps.push((v) => (typeof v === 'number' ? '0x' + v.toString(16).toUpperCase().padStart(width, '0') : v));
  }
  if (steps.length === 0) return undefined;
  if (steps.length === 1) return steps[0];
  return (v) => {
    for (const st of steps) v = st(v);
    return v;
  };
}

function compileRepeat(spec: unknown, path: string, resolve: NameResolver, elem: Reader): Reader {
  if (spec === 'until-end') {
    return (s) => {
      const out: unknown[] = [];
      const saved = s.index;
      while (s.pos < s.end) {
        const at = s.pos;
        s.index = out.length;
        out.push(elem(s));
        // Every loop must consume bytes, or a zero-size element would spin forever.
        if (s.pos === at) fail(s, at, DecodeReason.invalid, 'repeated element consumed no bytes');
      }
      s.index = saved;
      return out;
    };
  }
  const count = compileExpr(spec, path, resolve);
  return (s) => {
    const c = Number(count(s));
    if (!Number.isInteger(c) || c < 0 || c > MAX_REPEAT)
      fail(s, s.pos, DecodeReason.invalid, `repeat count ${c} out of range`);
    const out: unknown[] = []; // packed, unlike new Array(c)
    const saved = s.index;
    for (let i = 0; i < c; i++) {
      s.index = i;
      out.push(elem(s));
    }
    s.index = saved;
    return out;
  };
}

export type SizeFn = (s: State) => number;

/** size: a number, 'rest' or an expression; returns the size in bytes, checked against the range. */
export function compileSize(v: unknown, path: string, resolve: NameResolver, label: string): SizeFn {
  if (v === undefined || v === 'rest') return (s) => s.end - s.pos;
  if (typeof v === 'number') {
    const n = asInt(v, path);
    return (s) => {
      if (s.pos + n > s.end) fail(s, s.pos, DecodeReason.truncated, `need ${n} bytes for '${label}'`);
      return n;
    };
  }
  const g = compileExpr(v, path, resolve);
  return (s) => {
    const n = Number(g(s));
    if (!Number.isInteger(n) || n < 0) fail(s, s.pos, DecodeReason.invalid, `size of '${label}' is ${n}`);
    if (s.pos + n > s.end) fail(s, s.pos, DecodeReason.truncated, `need ${n} bytes for '${label}'`);
    return n;
  };
}

function compileBody(f: Obj, kind: string, path: string, cx: Cx, sc: CScope, merge: boolean): Reader {
  const label = typeof f.name === 'string' ? f.name : kind;
  const resolve = resolverFor(sc);
  const num = parseNumType(kind, (f.endian as string | undefined) ?? cx.endian, f.words, path);
  if (num) {
    const read = makeNumReader(num);
    const n = num.size;
    const msg = `need ${n} bytes for '${label}'`;
    return (s) => {
      const p = s.pos;
      if (p + n > s.end) fail(s, p, DecodeReason.truncated, msg);
      s.pos = p + n;
      return read(s.buf, p);
    };
  }
  switch (kind) {
    case 'value': {
      const g = compileExpr(f.value, `${path}.value`, resolve);
      return g;
    }
    case 'skip': {
      const size = compileSize(f.size, `${path}.size`, resolve, label);
      return (s) => {
        s.pos += size(s);
        return undefined;
      };
    }
    case 'bytes': {
      const size = compileSize(
        f.size ?? (f.const !== undefined ? asBytes(f.const, `${path}.const`).length : undefined),
        `${path}.size`,
        resolve,
        label,
      );
      const reverse = f.reverse === true;
      const asArr = f.format === 'array';
      return (s) => {
        const n = size(s);
        const p = s.pos;
        s.pos = p + n;
        return asArr ? Array.from(s.buf.subarray(p, p + n)) : toHexString(s.buf, p, p + n, reverse);
      };
    }
    case 'string': {
      const size = compileSize(f.size, `${path}.size`, resolve, label);
      const enc = f.encoding ?? 'ascii';
      if (enc !== 'ascii' && enc !== 'utf8' && enc !== 'latin1')
        throw new ContractError(`${path}.encoding`, 'expected ascii, utf8 or latin1');
      const decoder = new TextDecoder(enc === 'utf8' ? 'utf-8' : 'latin1');
      return (s) => {
        const n = size(s);
        const p = s.pos;
        s.pos = p + n;
        let e = p + n;
        while (e > p && s.buf[e - 1] === 0) e--; // NUL padding
        return decoder.decode(s.buf.subarray(p, e));
      };
    }
    case 'bcd':
      return compileBcd(f, path, cx, label);
    case 'bitmap': {
      const size = compileSize(f.size, `${path}.size`, resolve, label);
      const count = f.count === undefined ? undefined : compileExpr(f.count, `${path}.count`, resolve);
      return (s) => {
        const n = size(s);
        const p = s.pos;
        s.pos = p + n;
        let c = n * 8;
        if (count) {
          const want = Number(count(s));
          if (Number.isInteger(want) && want >= 0 && want < c) c = want;
        }
        const out = new Array<boolean>(c);
        for (let i = 0; i < c; i++) out[i] = (s.buf[p + (i >> 3)]! & (1 << (i & 7))) !== 0;
        return out;
      };
    }
    case 'flags': {
      const n = asInt(f.size ?? 1, `${path}.size`, 1, 4);
      const defs = Object.entries(asObject(f.flags, `${path}.flags`)).map(
        ([bit, nm]) =>
          [
            asInt(Number(bit), `${path}.flags.${bit}`, 0, n * 8 - 1),
            asIdent(nm, `${path}.flags.${bit}`),
          ] as const,
      );
      const little = ((f.endian as string | undefined) ?? cx.endian) === 'little';
      return (s) => {
        const p = s.pos;
        if (p + n > s.end) fail(s, p, DecodeReason.truncated, `need ${n} bytes for '${label}'`);
        s.pos = p + n;
        let v = 0;
        for (let i = 0; i < n; i++) v = v * 256 + s.buf[little ? p + n - 1 - i : p + i]!;
        const out: Record<string, boolean> = {};
        for (const [bit, nm] of defs) out[nm] = Math.floor(v / 2 ** bit) % 2 === 1;
        return out;
      };
    }
    case 'bits':
      return cx.containers.bits(f, path, cx, sc, merge, label);
    case 'struct': {
      if (merge) return compileStructMerged(f, path, cx, sc, label);
      const inner: CScope = { names: new Set(), up: sc };
      const seq = compileSeq(f.seq, `${path}.seq`, cx, inner);
      const sized = f.size !== undefined ? compileSize(f.size, `${path}.size`, resolve, label) : undefined;
      return (s) => {
        const o: Record<string, unknown> = {};
        const saved = s.sc;
        s.sc = { o, up: saved };
        if (sized) withRange(s, sized(s), seq);
        else seq(s);
        s.sc = saved;
        return o;
      };
    }
    case 'switch':
      return cx.containers.switch(f, path, cx, sc, merge, label);
    case 'transform':
      return cx.containers.transform(f, path, cx, sc, merge, label);
    case 'tlv':
      return cx.containers.tlv(f, path, cx, sc, label);
  }
  throw new ContractError(`${path}.type`, `unknown type '${kind}'`);
}

export function withRange(s: State, n: number, op: Op): void {
  const savedEnd = s.end;
  const end = s.pos + n;
  s.end = end;
  op(s);
  s.end = savedEnd;
  s.pos = end;
}

function compileStructMerged(f: Obj, path: string, cx: Cx, sc: CScope, label: string): Reader {
  const seq = compileSeq(f.seq, `${path}.seq`, cx, sc);
  if (f.size === undefined)
    return (s) => {
      seq(s);
      return undefined;
    };
  const sized = compileSize(f.size, `${path}.size`, resolverFor(sc), label);
  return (s) => {
    withRange(s, sized(s), seq);
    return undefined;
  };
}

function compileBcd(f: Obj, path: string, cx: Cx, label: string): Reader {
  const t: BcdType = {
    size: asInt(f.size, `${path}.size`, 1, 8),
    littleEndian: ((f.endian as string | undefined) ?? cx.endian) === 'little',
    lowNibbleFirst: f.nibbles === 'low-first',
    signed: f.signed === true,
  };
  if (f.nibbles !== undefined && f.nibbles !== 'low-first' && f.nibbles !== 'high-first')
    throw new ContractError(`${path}.nibbles`, "expected 'high-first' or 'low-first'");
  const asText = f.format === 'string';
  const n = t.size;
  return (s) => {
    const p = s.pos;
    if (p + n > s.end) fail(s, p, DecodeReason.truncated, `need ${n} bytes for '${label}'`);
    s.pos = p + n;
    const v = readBcd(t, s.buf, p);
    if (Number.isNaN(v))
      fail(
        s,
        p,
        DecodeReason.invalid,
        `'${label}' has a digit that is not BCD (${toHexString(s.buf, p, p + n, t.littleEndian)})`,
      );
    return asText ? String(Math.abs(v)).padStart(n * 2 - (t.signed ? 1 : 0), '0') : v;
  };
}
