// Inline contract tests: hex in, expected fields/points out (or an expected error), and encode cases.
import { ContractError } from './errors.ts';
import { parseHex, toHexString } from './primitives.ts';
import { asArray, asObject } from './spec.ts';
import type { Contract, ContractTestCase, ContractTestReport, Point } from './types.ts';

/** Does `actual` contain everything in `expected`? Numbers compare with a small tolerance. */
export function matches(expected: unknown, actual: unknown, path = ''): string | undefined {
  if (typeof expected === 'number' && typeof actual === 'number') {
    return Math.abs(expected - actual) <= 1e-9 * Math.max(1, Math.abs(expected))
      ? undefined
      : `${path || 'value'}: expected ${expected}, got ${actual}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${path}: expected a list, got ${JSON.stringify(actual)}`;
    if (actual.length !== expected.length)
      return `${path}: expected ${expected.length} items, got ${actual.length}`;
    for (let i = 0; i < expected.length; i++) {
      const m = matches(expected[i], actual[i], `${path}[${i}]`);
      if (m) return m;
    }
    return undefined;
  }
  if (expected && typeof expected === 'object') {
    if (!actual || typeof actual !== 'object')
      return `${path}: expected an object, got ${JSON.stringify(actual)}`;
    for (const [k, v] of Object.entries(expected)) {
      const m = matches(v, (actual as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      if (m) return m;
    }
    return undefined;
  }
  return expected === actual
    ? undefined
    : `${path || 'value'}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
}

function pointsAsObject(points: Point[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const p of points) o[p.name] = p.unit === undefined ? p.value : { value: p.value, unit: p.unit };
  return o;
}

/** Validates the shape of the tests section at load time so a typo is reported with its path. */
export function checkTestsShape(spec: unknown): void {
  if (spec === undefined) return;
  asArray(spec, 'tests').forEach((t, i) => {
    const o = asObject(t, `tests[${i}]`);
    if (typeof o.hex !== 'string')
      throw new ContractError(`tests[${i}].hex`, 'expected the frame as a hex string');
    if (o.encode !== undefined && typeof o.encode !== 'string')
      throw new ContractError(`tests[${i}].encode`, 'expected a message name');
  });
}

export function runContractTests(contract: Contract, spec: unknown): ContractTestReport {
  const cases: ContractTestCase[] = [];
  const list = spec === undefined ? [] : (spec as Record<string, unknown>[]);
  list.forEach((t, i) => {
    const name = typeof t.name === 'string' ? t.name : `tests[${i}]`;
    cases.push({ name, ...runOne(contract, t) });
  });
  const passed = cases.filter((c) => c.ok).length;
  return { contract: contract.id, passed, failed: cases.length - passed, cases };
}

function runOne(contract: Contract, t: Record<string, unknown>): { ok: boolean; message?: string } {
  let frame: Uint8Array;
  try {
    frame = parseHex(String(t.hex));
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
  if (typeof t.encode === 'string') {
    try {
      const got = contract.encode(t.encode, (t.params ?? {}) as Record<string, unknown>);
      const want = toHexString(frame, 0, frame.length, false);
      const have = toHexString(got, 0, got.length, false);
      return want === have ? { ok: true } : { ok: false, message: `encoded ${have}, expected ${want}` };
    } catch (err) {
      return { ok: false, message: (err as Error).message };
    }
  }
  const r = contract.decode(frame, (t.context ?? undefined) as Record<string, unknown> | undefined);
  if (t.error !== undefined) {
    if (r.ok) return { ok: false, message: `expected error '${String(t.error)}', decoded fine` };
    return r.error.reason.startsWith(String(t.error))
      ? { ok: true }
      : {
          ok: false,
          message: `expected error '${String(t.error)}', got '${r.error.reason}' at ${r.error.offset}`,
        };
  }
  if (!r.ok) return { ok: false, message: `decode failed at offset ${r.error.offset}: ${r.error.reason}` };
  const m1 = t.expect === undefined ? undefined : matches(t.expect, r.fields);
  if (m1) return { ok: false, message: m1 };
  const m2 = t.points === undefined ? undefined : matches(t.points, pointsAsObject(r.points), 'points');
  if (m2) return { ok: false, message: m2 };
  return { ok: true };
}
