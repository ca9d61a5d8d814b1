// Every published vector in test/fixtures/vectors/frames.json decodes (or fails, for the bad ones) as stated.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { builtinContract, type Contract, type Point } from '../../src/contracts/index.ts';
import { parseHex } from '../../src/contracts/primitives.ts';

interface Vector {
  name: string;
  hex: string;
  expect: Record<string, unknown>;
}
const vectors = JSON.parse(
  readFileSync(new URL('../fixtures/vectors/frames.json', import.meta.url), 'utf8'),
) as Record<string, Vector[]>;

const GROUPS: Record<string, string> = {
  dlt645_2007: 'dlt645-2007',
  modbus_rtu: 'modbus-rtu',
  modbus_tcp: 'modbus-tcp',
};

function checkExpect(c: Contract, v: Vector): void {
  const r = c.decode(parseHex(v.hex));
  if (!r.ok) assert.fail(`${v.name}: ${JSON.stringify(r)}`);
  const points: Point[] = r.points;
  for (const [k, want] of Object.entries(v.expect)) {
    if (k === 'unit' && 'value' in v.expect) {
      // The unit belongs to the telemetry point that carries the value.
      const p = points.find((x) => x.value === v.expect.value);
      assert.equal(p?.unit, want, `${v.name}: point unit`);
      continue;
    }
    assert.deepEqual(r.fields[k], want, `${v.name}: field ${k}`);
  }
}

for (const [group, id] of Object.entries(GROUPS)) {
  for (const v of vectors[group] ?? []) {
    test(`${id}: ${v.name}`, () => checkExpect(builtinContract(id), v));
  }
}

for (const v of vectors.bad ?? []) {
  const id = /DL\/T 645/.test(v.name)
    ? 'dlt645-2007'
    : /Modbus RTU/.test(v.name)
      ? 'modbus-rtu'
      : 'modbus-tcp';
  test(`${id}: bad frame fails: ${v.name}`, () => {
    const r = builtinContract(id).decode(parseHex(v.hex));
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.ok(r.error.reason.startsWith(String(v.expect.error)), r.error.reason);
      assert.ok(r.error.offset >= 0 && r.error.offset <= parseHex(v.hex).length);
    }
  });
}

test('the vector file has every group this test knows', () => {
  for (const g of [...Object.keys(GROUPS), 'bad']) assert.ok((vectors[g]?.length ?? 0) > 0, g);
});
