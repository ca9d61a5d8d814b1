// Containers of the closure plan: bit fields, switch, transforms (per-byte add/sub/xor, reverse), TLV loops.
import { ContractError, DecodeReason } from './errors.ts';
import { compileExpr } from './expr.ts';
import {
  compileField,
  compileSeq,
  compileSize,
  compileValueOptions,
  fail,
  resolverFor,
  withRange,
  type ContainerCompilers,
  type CScope,
  type Cx,
  type Op,
  type Reader,
} from './layout.ts';
import { makeNumReader, parseNumType, toHexString } from './primitives.ts';
import type { State } from './runtime.ts';
import { asArray, asIdent, asInt, asObject, normalizeKey, type Obj } from './spec.ts';

export function compileBits(f: Obj, path: string, cx: Cx, sc: CScope, merge: boolean, label: string): Reader {
  const n = asInt(f.size ?? 1, `${path}.size`, 1, 6);
  const lsbFirst = f.order === 'lsb-first';
  const little = ((f.endian as string | undefined) ?? cx.endian) === 'little';
  const target: CScope = merge ? sc : { names: new Set(), up: sc };
  let shift = lsbFirst ? 0 : n * 8;
  const parts = asArray(f.fields, `${path}.fields`).map((x, i) => {
    const p = `${path}.fields[${i}]`;
    const o = asObject(x, p);
    const width = asInt(o.bits, `${p}.bits`, 1, 32);
    if (!lsbFirst) shift -= width;
    const at = shift;
    if (lsbFirst) shift += width;
    if (shift < 0 || shift > n * 8) throw new ContractError(`${p}.bits`, `bit fields exceed ${n * 8} bits`);
    const nm = o.name === undefined ? undefined : asIdent(o.name, `${p}.name`);
    const post = compileValueOptions(o, p);
    if (nm) target.names.add(nm);
    return { nm, at, mod: 2 ** width, post };
  });
  return (s) => {
    const p = s.pos;
    if (p + n > s.end) fail(s, p, DecodeReason.truncated, `need ${n} bytes for '${label}'`);
    s.pos = p + n;
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + s.buf[little ? p + n - 1 - i : p + i]!;
    const o: Record<string, unknown> = merge ? s.sc.o : {};
    for (const part of parts) {
      if (!part.nm) continue;
      const raw = Math.floor(v / 2 ** part.at) % part.mod;
      o[part.nm] = part.post ? part.post(raw) : raw;
    }
    return merge ? undefined : o;
  };
}

/** A case body: a list (sequence) or one field spec. */
function compileCase(v: unknown, path: string, cx: Cx, sc: CScope): Op {
  if (v === null) return () => {};
  if (Array.isArray(v)) return compileSeq(v, path, cx, sc);
  return compileField(v, path, cx, sc);
}

export function compileSwitch(
  f: Obj,
  path: string,
  cx: Cx,
  sc: CScope,
  merge: boolean,
  label: string,
): Reader {
  const on = compileExpr(f.on, `${path}.on`, resolverFor(sc));
  const target: CScope = merge ? sc : { names: new Set(), up: sc };
  const cases = new Map<string, Op>();
  for (const [k, body] of Object.entries(asObject(f.cases, `${path}.cases`))) {
    const op = compileCase(body, `${path}.cases.${k}`, cx, target);
    // Both spellings match: the key as written ('0201', a string value) and as a number ('0x10' = 16).
    cases.set(k, op);
    if (!cases.has(normalizeKey(k))) cases.set(normalizeKey(k), op);
  }
  const dflt = f.default === undefined ? undefined : compileCase(f.default, `${path}.default`, cx, target);
  const pick = (s: State): Op => {
    const v = on(s);
    const op = cases.get(typeof v === 'boolean' ? String(v) : String(v)) ?? dflt;
    if (!op) fail(s, s.pos, DecodeReason.invalid, `no case of '${label}' for ${String(v)}`);
    return op;
  };
  if (merge)
    return (s) => {
      pick(s)(s);
      return undefined;
    };
  return (s) => {
    const op = pick(s);
    const o: Record<string, unknown> = {};
    const saved = s.sc;
    s.sc = { o, up: saved };
    op(s);
    s.sc = saved;
    return o;
  };
}

type ByteOp = (b: Uint8Array) => void;

/** Per-byte add/sub/xor and reverse, in decode direction; `inverse` gives the encode direction. */
export function compileByteOps(list: unknown, path: string, inverse: boolean): ByteOp[] {
  const ops = asArray(list, path).map((x, i): ByteOp => {
    const p = `${path}[${i}]`;
    const o = asObject(x, p);
    const [key, ...more] = Object.keys(o);
    if (!key || more.length > 0) throw new ContractError(p, 'expected one of add, sub, xor, reverse');
    if (key === 'reverse') return (b) => void b.reverse();
    const k = asInt(o[key], `${p}.${key}`, 0, 255);
    let delta: number;
    if (key === 'xor')
      return (b) => {
        for (let j = 0; j < b.length; j++) b[j] ^= k;
      };
    if (key === 'add') delta = inverse ? 256 - k : k;
    else if (key === 'sub') delta = inverse ? k : 256 - k;
    else throw new ContractError(`${p}.${key}`, 'expected one of add, sub, xor, reverse');
    return (b) => {
      for (let j = 0; j < b.length; j++) b[j] = (b[j]! + delta) & 0xff;
    };
  });
  return inverse ? ops.reverse() : ops;
}

export function compileTransform(
  f: Obj,
  path: string,
  cx: Cx,
  sc: CScope,
  merge: boolean,
  label: string,
): Reader {
  const ops = compileByteOps(f.ops, `${path}.ops`, false);
  const size = compileSize(f.size, `${path}.size`, resolverFor(sc), label);
  const target: CScope = merge ? sc : { names: new Set(), up: sc };
  const seq = compileSeq(f.seq, `${path}.seq`, cx, target);
  return (s) => {
    const n = size(s);
    const start = s.pos;
    // A real copy: on a Node Buffer, slice() would be a view and the transform would alter the caller's frame.
    const copy = new Uint8Array(n);
    copy.set(s.buf.subarray(start, start + n));
    for (const op of ops) op(copy);
    const { buf, base, stop, end, shift, sc: savedSc } = s;
    let o: Record<string, unknown> | undefined;
    if (!merge) s.sc = { o: (o = {}), up: savedSc };
    s.buf = copy;
    s.base = 0;
    s.pos = 0;
    s.stop = n;
    s.end = n;
    s.shift = shift + start;
    try {
      seq(s);
    } finally {
      s.buf = buf;
      s.base = base;
      s.stop = stop;
      s.end = end;
      s.shift = shift;
      s.pos = start + n;
      s.sc = savedSc;
    }
    return o;
  };
}

export function compileTlv(f: Obj, path: string, cx: Cx, sc: CScope, label: string): Reader {
  // A tlv runs to the end of its range; a `size:` here used to be accepted and ignored, which hid a
  // contract that does not mean what its author thinks.
  if (f.size !== undefined)
    throw new ContractError(
      `${path}.size`,
      'a tlv reads entries to the end of the current range and takes no size; wrap it in a struct with size to bound it',
    );
  const tagType = parseNumType(
    String(f.tag ?? 'u8'),
    (f.endian as string | undefined) ?? cx.endian,
    undefined,
    `${path}.tag`,
  );
  if (!tagType || tagType.kind !== 'int')
    throw new ContractError(`${path}.tag`, 'expected an integer type such as u8');
  const lenType =
    f.length === undefined
      ? undefined
      : parseNumType(
          String(f.length),
          (f.endian as string | undefined) ?? cx.endian,
          undefined,
          `${path}.length`,
        );
  if (f.length !== undefined && (!lenType || lenType.kind !== 'int'))
    throw new ContractError(`${path}.length`, 'expected an integer type such as u8');
  const readTag = makeNumReader(tagType);
  const readLen = lenType ? makeNumReader(lenType) : undefined;
  const inner: CScope = { names: new Set<string>(), up: sc };
  const cases = new Map<string, Op>();
  for (const [k, body] of Object.entries(asObject(f.cases, `${path}.cases`)))
    cases.set(normalizeKey(k), compileCase(body, `${path}.cases.${k}`, cx, inner));
  const dflt = f.default ?? 'bytes';
  if (dflt !== 'bytes' && dflt !== 'skip' && dflt !== 'error')
    throw new ContractError(`${path}.default`, "expected 'bytes', 'skip' or 'error'");
  if (!readLen && dflt !== 'error')
    throw new ContractError(
      `${path}.default`,
      "without a length field an unknown tag cannot be skipped: use 'error'",
    );
  const ts = tagType.size;
  const ls = lenType?.size ?? 0;
  return (s) => {
    const o: Record<string, unknown> = {};
    const saved = s.sc;
    s.sc = { o, up: saved };
    while (s.pos < s.end) {
      const at = s.pos;
      if (at + ts + ls > s.end)
        fail(s, at, DecodeReason.truncated, `need ${ts + ls} bytes for a tag of '${label}'`);
      const tag = readTag(s.buf, at) as number;
      s.pos = at + ts;
      const op = cases.get(String(tag));
      if (!readLen) {
        if (!op) fail(s, at, DecodeReason.invalid, `unknown tag ${tag} in '${label}'`);
        op(s);
        continue;
      }
      const len = readLen(s.buf, s.pos) as number;
      s.pos += ls;
      if (s.pos + len > s.end)
        fail(s, at, DecodeReason.truncated, `tag ${tag} of '${label}' needs ${len} bytes`);
      if (op) withRange(s, len, op);
      else if (dflt === 'error') fail(s, at, DecodeReason.invalid, `unknown tag ${tag} in '${label}'`);
      else {
        if (dflt === 'bytes') o[`tag_${tag}`] = toHexString(s.buf, s.pos, s.pos + len, false);
        s.pos += len;
      }
    }
    s.sc = saved;
    return o;
  };
}

/** What layout.ts calls for a nested type (through `Cx.containers`). */
export const CONTAINER_COMPILERS: ContainerCompilers = {
  bits: compileBits,
  switch: compileSwitch,
  transform: compileTransform,
  tlv: compileTlv,
};
