// Compiles the `encode` section: named messages (requests, commands) built from parameters.
import { ContractError } from './errors.ts';
import { compileExpr } from './expr.ts';
import { compileByteOps } from './containers.ts';
import { resolverFor, type CScope } from './layout.ts';
import { makeNumWriter, parseNumType, writeBcd, type BcdType } from './primitives.ts';
import { newState, type Getter, type State } from './runtime.ts';
import {
  asArray,
  asBytes,
  asIdent,
  asInt,
  asNumber,
  asObject,
  asString,
  checkKeys,
  type Obj,
} from './spec.ts';

class Writer {
  buf = new Uint8Array(64);
  len = 0;
  reserve(n: number): number {
    if (this.len + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    const p = this.len;
    this.len += n;
    return p;
  }
}

type WOp = (w: Writer, s: State) => void;

interface ParamDef {
  name: string;
  type: 'number' | 'string' | 'array' | 'boolean';
  min?: number;
  max?: number;
  default?: unknown;
  integer: boolean;
}

export interface Encoder {
  params: ParamDef[];
  /** Builds the frame; `checksums` fills the checksum fields once the frame is complete. */
  build(params: Record<string, unknown>): Uint8Array;
}

export interface EncodeCx {
  endian: 'big' | 'little';
  checksumSizes: Map<string, number>;
  prefix: Uint8Array;
  finish: (frame: Uint8Array) => void;
}

const PARAM_KEYS = new Set(['type', 'min', 'max', 'default', 'integer', 'description']);
const EFIELD_KEYS = new Set([
  'name',
  'type',
  'value',
  'const',
  'endian',
  'words',
  'scale',
  'offset',
  'size',
  'if',
  'each',
  'checksum',
  'reverse',
  'nibbles',
  'signed',
  'ops',
  'seq',
  'encoding',
  'description',
]);

function compileParams(spec: unknown, path: string): ParamDef[] {
  if (spec === undefined) return [];
  return Object.entries(asObject(spec, path)).map(([name, v]) => {
    const p = `${path}.${name}`;
    asIdent(name, p);
    const o = v === null ? {} : asObject(v, p);
    checkKeys(o, PARAM_KEYS, p);
    const type = (o.type ?? 'number') as ParamDef['type'];
    if (!['number', 'string', 'array', 'boolean'].includes(type))
      throw new ContractError(`${p}.type`, 'expected number, string, array or boolean');
    return {
      name,
      type,
      min: o.min === undefined ? undefined : asNumber(o.min, `${p}.min`),
      max: o.max === undefined ? undefined : asNumber(o.max, `${p}.max`),
      default: o.default,
      integer: o.integer !== false,
    };
  });
}

function checkParams(
  defs: ParamDef[],
  given: Record<string, unknown>,
  path: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const d of defs) {
    let v = Object.hasOwn(given, d.name) ? given[d.name] : d.default;
    const p = `${path}.${d.name}`;
    if (v === undefined) throw new ContractError(p, 'required parameter is missing');
    if (d.type === 'number') {
      if (typeof v === 'string' && /^(0x[0-9a-f]+|-?\d+(\.\d+)?)$/i.test(v.trim())) v = Number(v);
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new ContractError(p, `expected a number, got ${JSON.stringify(v)}`);
      if (d.integer && !Number.isInteger(v)) throw new ContractError(p, `expected an integer, got ${v}`);
      if ((d.min !== undefined && v < d.min) || (d.max !== undefined && v > d.max))
        throw new ContractError(p, `${v} is out of range ${d.min ?? '-∞'}..${d.max ?? '∞'}`);
    } else if (d.type === 'string') {
      if (typeof v === 'number') v = String(v);
      if (typeof v !== 'string') throw new ContractError(p, `expected a string, got ${JSON.stringify(v)}`);
    } else if (d.type === 'array') {
      if (!Array.isArray(v)) throw new ContractError(p, `expected a list, got ${JSON.stringify(v)}`);
      if (d.min !== undefined && v.length < d.min)
        throw new ContractError(p, `needs at least ${d.min} items`);
      if (d.max !== undefined && v.length > d.max) throw new ContractError(p, `takes at most ${d.max} items`);
    } else if (typeof v !== 'boolean') {
      if (v === 0 || v === 1 || v === 'true' || v === 'false') v = v === 1 || v === 'true';
      else throw new ContractError(p, `expected true or false, got ${JSON.stringify(v)}`);
    }
    out[d.name] = v;
  }
  for (const k of Object.keys(given))
    if (!defs.some((d) => d.name === k)) throw new ContractError(`${path}.${k}`, 'unknown parameter');
  return out;
}

export function compileEncoder(spec: unknown, path: string, ecx: EncodeCx): Encoder {
  const o = asObject(spec, path);
  checkKeys(o, new Set(['params', 'seq', 'description']), path);
  const params = compileParams(o.params, `${path}.params`);
  const sc: CScope = { names: new Set(params.map((p) => p.name)), up: null };
  const body = compileWSeq(o.seq, `${path}.seq`, ecx, sc);
  return {
    params,
    build(given) {
      const values = checkParams(params, given, path.replace(/^encode\./, ''));
      const s = newState(new Uint8Array(0), values);
      s.sc.o = values;
      const w = new Writer();
      const pre = ecx.prefix.length;
      w.reserve(pre);
      w.buf.set(ecx.prefix, 0);
      body(w, s);
      const out = w.buf.slice(0, w.len);
      ecx.finish(out.subarray(pre));
      return out;
    },
  };
}

function compileWSeq(list: unknown, path: string, ecx: EncodeCx, sc: CScope): WOp {
  const ops = asArray(list, path).map((f, i) => compileWField(f, `${path}[${i}]`, ecx, sc));
  return (w, s) => {
    for (const op of ops) op(w, s);
  };
}

function compileWField(spec: unknown, path: string, ecx: EncodeCx, sc: CScope): WOp {
  const f = asObject(spec, path);
  checkKeys(f, EFIELD_KEYS, path);
  const resolve = resolverFor(sc);
  let op: WOp;
  if (f.checksum !== undefined) {
    const name = asString(f.checksum, `${path}.checksum`);
    const size = ecx.checksumSizes.get(name);
    if (size === undefined)
      throw new ContractError(`${path}.checksum`, `no checksum named '${name}' in checksums`);
    op = (w) => void w.reserve(size).valueOf();
  } else if (f.ops !== undefined) {
    const ops = compileByteOps(f.ops, `${path}.ops`, true);
    const inner = compileWSeq(f.seq, `${path}.seq`, ecx, sc);
    op = (w, s) => {
      const start = w.len;
      inner(w, s);
      const part = w.buf.subarray(start, w.len);
      for (const bo of ops) bo(part);
    };
  } else if (f.seq !== undefined) op = compileWSeq(f.seq, `${path}.seq`, ecx, sc);
  else op = compileWValue(f, path, ecx, resolve);
  if (f.each !== undefined) {
    const list = compileExpr(f.each, `${path}.each`, resolve);
    const one = op;
    op = (w, s) => {
      const items = list(s);
      if (!Array.isArray(items)) throw new ContractError(`${path}.each`, 'expected a list');
      items.forEach((item, i) => {
        s.item = item;
        s.index = i;
        one(w, s);
      });
    };
  }
  if (f.if !== undefined) {
    const cond = compileExpr(f.if, `${path}.if`, resolve);
    const inner = op;
    op = (w, s) => {
      if (cond(s)) inner(w, s);
    };
  }
  return op;
}

function compileWValue(f: Obj, path: string, ecx: EncodeCx, resolve: ReturnType<typeof resolverFor>): WOp {
  const type =
    typeof f.type === 'string'
      ? f.type
      : f.const !== undefined && typeof f.const !== 'number'
        ? 'bytes'
        : 'u8';
  let value: Getter;
  if (f.const !== undefined) {
    const c = type === 'bytes' ? asBytes(f.const, `${path}.const`) : asNumber(f.const, `${path}.const`);
    value = () => c;
  } else if (f.value !== undefined) value = compileExpr(f.value, `${path}.value`, resolve);
  else if (f.name !== undefined) {
    const g = resolve(asIdent(f.name, `${path}.name`));
    if (!g)
      throw new ContractError(`${path}.name`, `parameter '${String(f.name)}' is not declared in params`);
    value = g;
  } else value = (s) => s.item;
  const label = typeof f.name === 'string' ? f.name : type;
  const bad = (msg: string): never => {
    throw new ContractError(path, `'${label}': ${msg}`);
  };
  const num = parseNumType(type, (f.endian as string | undefined) ?? ecx.endian, f.words, path);
  if (num) {
    const write = makeNumWriter(num);
    const scale = f.scale === undefined ? 1 : asNumber(f.scale, `${path}.scale`);
    const offset = f.offset === undefined ? 0 : asNumber(f.offset, `${path}.offset`);
    return (w, s) => {
      let v = value(s);
      if (typeof v === 'boolean') v = v ? 1 : 0;
      if (typeof v !== 'number' && typeof v !== 'bigint') bad(`expected a number, got ${JSON.stringify(v)}`);
      if (typeof v === 'number' && (scale !== 1 || offset !== 0)) v = (v - offset) / scale;
      if (num.kind === 'int' && typeof v === 'number') v = Math.round(v);
      const p = w.reserve(num.size);
      try {
        write(w.buf, p, v as number);
      } catch (err) {
        bad((err as Error).message);
      }
    };
  }
  switch (type) {
    case 'bytes': {
      const size = f.size === undefined ? undefined : asInt(f.size, `${path}.size`);
      const reverse = f.reverse === true;
      return (w, s) => {
        const v = value(s);
        let bytes: Uint8Array;
        try {
          bytes = v instanceof Uint8Array ? v : asBytes(v, label);
        } catch {
          return bad(`expected hex bytes, got ${JSON.stringify(v)}`);
        }
        if (size !== undefined && bytes.length !== size) bad(`expected ${size} bytes, got ${bytes.length}`);
        const p = w.reserve(bytes.length);
        w.buf.set(reverse ? Uint8Array.from(bytes).reverse() : bytes, p); // from(): never reverse the caller's Buffer
      };
    }
    case 'string': {
      const size = f.size === undefined ? undefined : asInt(f.size, `${path}.size`);
      return (w, s) => {
        const bytes = new TextEncoder().encode(String(value(s)));
        if (size !== undefined && bytes.length > size) bad(`longer than ${size} bytes`);
        const p = w.reserve(size ?? bytes.length);
        w.buf.set(bytes, p);
      };
    }
    case 'bcd': {
      const t: BcdType = {
        size: asInt(f.size, `${path}.size`, 1, 8),
        littleEndian: ((f.endian as string | undefined) ?? ecx.endian) === 'little',
        lowNibbleFirst: f.nibbles === 'low-first',
        signed: f.signed === true,
      };
      const scale = f.scale === undefined ? 1 : asNumber(f.scale, `${path}.scale`);
      return (w, s) => {
        let v = value(s);
        if (typeof v === 'string' && /^\d+$/.test(v)) v = Number(v);
        if (typeof v !== 'number') return bad(`expected a number, got ${JSON.stringify(v)}`);
        const p = w.reserve(t.size);
        try {
          writeBcd(t, w.buf, p, Math.round(v / scale));
        } catch (err) {
          bad((err as Error).message);
        }
      };
    }
    case 'bitmap':
      return (w, s) => {
        const v = value(s);
        if (!Array.isArray(v)) return bad('expected a list of booleans');
        const p = w.reserve(Math.ceil(v.length / 8));
        v.forEach((bit, i) => {
          if (bit) w.buf[p + (i >> 3)]! |= 1 << (i & 7);
        });
      };
  }
  throw new ContractError(`${path}.type`, `type '${type}' cannot be encoded`);
}
