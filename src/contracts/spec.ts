// Small validators for contract documents: each error names the path of the offending value.
import { ContractError } from './errors.ts';

export type Obj = Record<string, unknown>;

const IDENT = /^[A-Za-z_][\w]*$/;
const RESERVED = new Set(['ctx', 'true', 'false', 'null', '__proto__', 'constructor', 'prototype']);

export function asObject(v: unknown, path: string): Obj {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ContractError(path, 'expected a mapping');
  return v as Obj;
}

export function asArray(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new ContractError(path, 'expected a list');
  return v;
}

export function asString(v: unknown, path: string): string {
  if (typeof v !== 'string' || v === '') throw new ContractError(path, 'expected a non-empty string');
  return v;
}

export function asInt(v: unknown, path: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new ContractError(path, `expected an integer in ${min}..${max}`);
  return v;
}

export function asNumber(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ContractError(path, 'expected a number');
  return v;
}

export function asIdent(v: unknown, path: string): string {
  if (typeof v !== 'string' || !IDENT.test(v) || RESERVED.has(v))
    throw new ContractError(
      path,
      `'${String(v)}' is not a valid name (letters, digits, _; not a reserved word)`,
    );
  return v;
}

export function checkKeys(o: Obj, allowed: ReadonlySet<string>, path: string): void {
  for (const k of Object.keys(o)) if (!allowed.has(k)) throw new ContractError(`${path}.${k}`, 'unknown key');
}

/** 0x68, [0x68, 0x16], '68 16' → bytes. */
export function asBytes(v: unknown, path: string): Uint8Array {
  if (typeof v === 'number') return Uint8Array.of(asInt(v, path, 0, 255));
  if (Array.isArray(v)) return Uint8Array.from(v.map((b, i) => asInt(b, `${path}[${i}]`, 0, 255)));
  if (typeof v === 'string') {
    const clean = v.replace(/0x/gi, '').replace(/[\s,]/g, '');
    if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean))
      throw new ContractError(path, `'${v}' is not hex bytes`);
    return Uint8Array.from(clean.match(/../g) ?? [], (h) => parseInt(h, 16));
  }
  throw new ContractError(path, 'expected a byte, a list of bytes or a hex string');
}

/** Switch/enum keys arrive as strings from YAML/JSON; '0x10' and '16' both mean 16. */
export function normalizeKey(k: string): string {
  if (/^-?\d+$/.test(k)) return String(Number(k));
  if (/^0x[0-9a-f]+$/i.test(k)) return String(parseInt(k.slice(2), 16));
  return k;
}
