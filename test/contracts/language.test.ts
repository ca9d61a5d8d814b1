// The contract language: validation errors with paths, every field kind, expressions, encode round trips.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  ContractError,
  detectContract,
  loadContract,
  type Contract,
  type DecodeResult,
} from '../../src/contracts/index.ts';
import { parseHex, toHexString } from '../../src/contracts/primitives.ts';

const hex = (b: Uint8Array): string => toHexString(b, 0, b.length, false);
function fields(r: DecodeResult): Record<string, unknown> {
  if (!r.ok) assert.fail(`decode failed: ${JSON.stringify(r.error)}`);
  return r.fields;
}
/** Loads a contract twice (generated code and closure plan); every decode checks that both agree. */
function one(seq: unknown[], extra: Record<string, unknown> = {}): Contract {
  const fast = loadContract({ id: 't', seq, ...extra });
  const slow = loadContract({ id: 't', seq, ...extra }, { generate: false });
  // defineProperty: a generated contract's own `decode` is read-only (the instance is frozen).
  return Object.create(fast, {
    decode: {
      value(frame: Uint8Array, ctx?: Record<string, unknown>): DecodeResult {
        const r = fast.decode(frame, ctx);
        assert.deepEqual(r, slow.decode(frame, ctx), 'generated and interpreted decoders disagree');
        return r;
      },
    },
  }) as Contract;
}

test('validation names the path: a size that uses a field not defined before', () => {
  assert.throws(
    () =>
      one([
        { name: 'a', type: 'u8' },
        { name: 'b', type: 'u8' },
        { name: 'c', type: 'u8' },
        { name: 'data', type: 'bytes', size: 'len' },
      ]),
    (e: unknown) =>
      e instanceof ContractError &&
      e.path === 'seq[3].size' &&
      /field 'len' is not defined before use/.test(e.message),
  );
});

test('validation names the path: unknown keys, types, checksums, bad names, YAML errors', () => {
  assert.throws(() => one([{ name: 'a', type: 'u8', scael: 2 }]), /seq\[0\]\.scael: unknown key/);
  assert.throws(() => one([{ name: 'a', type: 'u17' }]), /seq\[0\]\.type: unknown type 'u17'/);
  assert.throws(() => one([{ name: '1a', type: 'u8' }]), /seq\[0\]\.name: '1a' is not a valid name/);
  assert.throws(
    () => one([], { checksums: [{ algorithm: 'crc99', at: -1 }] }),
    /checksums\[0\]\.algorithm: unknown checksum 'crc99'/,
  );
  assert.throws(() => one([{ name: 'a', value: 'b +' }]), /seq\[0\]\.value: .*expression 'b \+'/);
  assert.throws(() => one([{ name: 'a', value: 'eval(1)' }]), /unknown function 'eval'/);
  assert.throws(() => loadContract('id: [unclosed'), /not valid YAML/);
  assert.throws(() => one([{ on: 'x', cases: {} }]), /seq\[0\]\.on: field 'x' is not defined/);
  assert.throws(
    () => one([{ name: 'r', type: 'loop' }], { types: { loop: { type: 'loop2' }, loop2: { type: 'loop' } } }),
    /nests too deeply/,
  );
});

test('inline tests run on load and a failing one is reported with its index', () => {
  assert.throws(
    () => one([{ name: 'a', type: 'u8' }], { tests: [{ hex: '05', expect: { a: 6 } }] }),
    /tests\[0\]: 'tests\[0\]' failed: a: expected 6, got 5/,
  );
  assert.equal(
    one([{ name: 'a', type: 'u8' }], { tests: [{ hex: '05', expect: { a: 5 } }] }).runTests().passed,
    1,
  );
});

test('integers 8-64 bit in both byte orders and all word orders', () => {
  const c = one([
    { name: 'a', type: 'u16le' },
    { name: 'b', type: 'i16' },
    { name: 'c', type: 'u24' },
    { name: 'd', type: 'i32', words: 'CDAB' },
    { name: 'e', type: 'u32', words: 'BADC' },
    { name: 'f', type: 'u32', words: 'DCBA' },
    { name: 'g', type: 'u64' },
    { name: 'h', type: 'i64le' },
  ]);
  const f = fields(
    c.decode(parseHex('3412 FFFE 010203 5678 1234 3412 7856 78563412 00000000000001FF FFFFFFFFFFFFFFFF')),
  );
  assert.deepEqual(f, {
    a: 0x1234,
    b: -2,
    c: 0x010203,
    d: 0x12345678,
    e: 0x12345678,
    f: 0x12345678,
    g: 511,
    h: -1,
  });
  const big = fields(one([{ name: 'g', type: 'u64' }]).decode(parseHex('FFFFFFFFFFFFFFFF')));
  assert.equal(big.g, '18446744073709551615'); // beyond 2^53: exact, as a decimal string
});

test('float32/64 in byte and word orders', () => {
  const c = one([
    { name: 'a', type: 'f32' },
    { name: 'b', type: 'f32', words: 'CDAB' },
    { name: 'c', type: 'f64le', decimals: 3 },
  ]);
  const f = fields(c.decode(parseHex('41200000 0000 4120 0000000000C05EC0')));
  assert.deepEqual(f, { a: 10, b: 10, c: -123 });
});

test('BCD in either digit order with a sign bit; bit fields; flags; bitmap', () => {
  const c = one([
    { name: 'a', type: 'bcd', size: 2 },
    { name: 'b', type: 'bcd', size: 2, endian: 'little', signed: true, scale: 0.1 },
    { name: 'c', type: 'bcd', size: 1, nibbles: 'low-first' },
    {
      type: 'bits',
      size: 1,
      fields: [{ name: 'hi', bits: 3 }, { bits: 1 }, { name: 'lo', bits: 4, enum: { 5: 'five' } }],
    },
    { name: 'fl', type: 'flags', flags: { 0: 'x', 7: 'y' } },
    { name: 'bm', type: 'bitmap', size: 1, count: 3 },
  ]);
  assert.deepEqual(fields(c.decode(parseHex('1234 3482 21 A5 80 05'))), {
    a: 1234,
    b: -23.4,
    c: 12,
    hi: 5,
    lo: 'five',
    fl: { x: false, y: true },
    bm: [true, false, true],
  });
  const bad = one([{ name: 'a', type: 'bcd', size: 1 }]).decode(parseHex('1A'));
  assert.deepEqual(bad, {
    ok: false,
    error: { offset: 0, reason: "invalid: 'a' has a digit that is not BCD (1A)" },
  });
});

test('bytes, strings, constants and valid checks', () => {
  const c = one([
    { const: [0xaa, 0x55] },
    { name: 'id', type: 'bytes', size: 2, reverse: true },
    { name: 'n', type: 'u8', valid: '$value < 10' },
    { name: 's', type: 'string', size: 'n' },
  ]);
  assert.deepEqual(fields(c.decode(parseHex('AA55 0102 04 41 42 43 00'))), { id: '0201', n: 4, s: 'ABC' });
  const r1 = c.decode(parseHex('AA56 0102 00'));
  assert.equal(r1.ok, false);
  assert.equal(!r1.ok && r1.error.offset, 0);
  const r2 = c.decode(parseHex('AA55 0102 0B'));
  assert.equal(!r2.ok && r2.error.reason, "invalid: 'n' = 11 is not valid");
});

test('transforms: per-byte sub/xor and reverse over a sub-range, offsets point into the input', () => {
  const c = one([
    { name: 'n', type: 'u8' },
    {
      ops: [{ sub: 0x33 }, { reverse: true }],
      size: 'n',
      seq: [
        { name: 'v', type: 'u16' },
        { name: 'w', type: 'u8' },
      ],
    },
    { name: 'x', ops: [{ xor: 0xff }], size: 1, seq: [{ name: 'y', type: 'u8' }] },
  ]);
  // 34 35 36 - 33 = 01 02 03, reversed = 03 02 01
  assert.deepEqual(fields(c.decode(parseHex('03 34 35 36 F0'))), { n: 3, v: 0x0302, w: 1, x: { y: 0x0f } });
  const inner = one([
    { name: 'n', type: 'u8' },
    {
      ops: [{ xor: 0xff }],
      size: 2,
      seq: [
        { name: 'a', type: 'u8' },
        { name: 'b', type: 'u16' },
      ],
    },
  ]);
  const r = inner.decode(parseHex('07 11 22'));
  assert.ok(!r.ok && r.error.reason.startsWith('truncated'));
  assert.equal(!r.ok && r.error.offset, 2); // 'b' starts at byte 1 of the copy, which is byte 2 of the frame
});

test('structures: reusable types, switch with default, repeats by count/field/until end, conditionals', () => {
  const c = one(
    [
      { name: 'kind', type: 'u8' },
      {
        name: 'body',
        on: 'kind',
        cases: { 1: [{ name: 'v', type: 'u8' }], '0x10': { name: 'p', type: 'pair' } },
        default: [{ name: 'raw', type: 'bytes', size: 1 }],
      },
      { name: 'count', type: 'u8' },
      { name: 'list', type: 'u8', repeat: 'count' },
      { name: 'two', type: 'u8', repeat: 2 },
      { name: 'extra', type: 'u8', if: 'count > 1' },
      { name: 'rest', type: 'pair', repeat: 'until-end' },
    ],
    {
      types: {
        pair: {
          seq: [
            { name: 'a', type: 'u8' },
            { name: 'b', type: 'u8', scale: 2 },
          ],
        },
      },
    },
  );
  assert.deepEqual(fields(c.decode(parseHex('10 0102 02 0506 0708 09 0A0B'))), {
    kind: 16,
    body: { p: { a: 1, b: 4 } },
    count: 2,
    list: [5, 6],
    two: [7, 8],
    extra: 9,
    rest: [{ a: 10, b: 22 }],
  });
  assert.deepEqual(fields(c.decode(parseHex('07 AA 01 05 0708'))).body, { raw: 'AA' });
  assert.equal(fields(c.decode(parseHex('07 AA 01 05 0708'))).extra, undefined);
});

test('TLV loops: tag → type table, unknown tags kept as bytes', () => {
  const c = one([
    {
      name: 'tlv',
      type: 'tlv',
      tag: 'u8',
      length: 'u8',
      cases: {
        1: { name: 'temp', type: 'i16', scale: 0.1, point: 'temperature', unit: 'C' },
        2: { name: 'label', type: 'string' },
      },
    },
  ]);
  const r = c.decode(parseHex('01 02 00 FB 09 01 7F 02 02 68 69'));
  assert.deepEqual(fields(r), { tlv: { temp: 25.1, tag_9: '7F', label: 'hi' } });
  assert.deepEqual(r.ok && r.points, [{ name: 'temperature', value: 25.1, unit: 'C' }]);
  const cut = c.decode(parseHex('01 05 00'));
  assert.ok(!cut.ok && cut.error.reason.startsWith('truncated')); // size on a tlv is a contract error, not silently ignored
  assert.throws(
    () => one([{ name: 'tlv', type: 'tlv', tag: 'u8', length: 'u8', size: 4, cases: {} }]),
    /seq\[0\]\.size: a tlv reads entries to the end of the current range and takes no size/,
  );
});

test('expressions: arithmetic, precedence, strings, functions, context, derived points', () => {
  const c = one(
    [
      { name: 'a', type: 'u8' },
      { name: 'b', type: 'u8' },
      { name: 'e1', value: '1 + 2 * 3 ** 2 - (a & 0x0F) % 3' },
      { name: 'e2', value: "a > b ? 'gt' : (a == b ? 'eq' : 'lt')" },
      { name: 'e3', value: "hex(a, 4) + '-' + substr('abcdef', 1, 2) + str(max(a, b, 100))" },
      { name: 'e4', value: 'round(ctx.k * 1.23456, 2) + (ctx.missing ?? 7)' },
      { name: 'e5', value: '!(a < b) || bit(b, 0) == 1 && -a < ~0' },
    ],
    { points: [{ name: 'sum_${ctx.k}', value: 'a + b', unit: 'u' }], context: { k: { default: 2 } } },
  );
  const r = c.decode(parseHex('1F 03'));
  assert.deepEqual(fields(r), {
    a: 31,
    b: 3,
    e1: 1 + 2 * 9 - (15 % 3),
    e2: 'gt',
    e3: '001F-bc100',
    e4: 2.47 + 7,
    e5: true,
  });
  assert.deepEqual(r.ok && r.points, [{ name: 'sum_2', value: 34, unit: 'u' }]);
  const r2 = c.decode(parseHex('1F 03'), { k: 10 });
  assert.equal(r2.ok && r2.fields.e4, 12.35 + 7);
  // Expressions cannot reach JavaScript: no globals, no prototype walking.
  const sneaky = one([{ name: 'x', value: "ctx.constructor ?? ctx['__proto__'] ?? 'safe'" }]);
  assert.equal(fields(sneaky.decode(new Uint8Array(0))).x, 'safe');
});

test('checksums by preset and by CRC parameters over ranges with negative offsets, both byte orders', () => {
  const payload = 'DEADBEEF';
  const crc = (algorithm: unknown, endian: string) =>
    one(
      [
        { name: 'p', type: 'bytes', size: 4 },
        { name: 'c', type: 'bytes' },
      ],
      {
        checksums: [{ algorithm, from: 0, to: -2, at: -2, endian }],
        encode: {
          m: {
            params: { p: { type: 'string' } },
            seq: [{ type: 'bytes', name: 'p' }, { checksum: 'checksum0' }],
          },
        },
      },
    );
  const modbus = crc('crc16-modbus', 'little');
  const byParams = crc(
    { width: 16, poly: 0x8005, init: 0xffff, refin: true, refout: true, xorout: 0 },
    'little',
  );
  const framed = modbus.encode('m', { p: payload });
  assert.equal(hex(framed), hex(byParams.encode('m', { p: payload })));
  assert.ok(modbus.decode(framed).ok);
  framed[1] ^= 1;
  const bad = modbus.decode(framed);
  assert.ok(!bad.ok && bad.error.reason.startsWith('checksum') && bad.error.offset === 4);
  const c32 = one([{ name: 'p', type: 'bytes', size: 9 }, { type: 'u32' }], {
    checksums: [{ algorithm: 'crc32', to: 9, at: -4, endian: 'big' }],
  });
  assert.ok(c32.decode(Uint8Array.from([...Buffer.from('123456789'), 0xcb, 0xf4, 0x39, 0x26])).ok);
  const x8 = one([{ type: 'bytes', size: 2 }, { type: 'u8' }], {
    checksums: [{ algorithm: 'xor8', at: -1 }],
  });
  assert.ok(x8.decode(parseHex('0F F0 FF')).ok);
});

test('encoding: params with defaults and ranges, scale, each, if, transforms, prefix', () => {
  const c = one([], {
    framing: { prefix: { byte: 0xfe, max: 2, emit: 2 } },
    encode: {
      set: {
        params: { t: { integer: false }, list: { type: 'array' }, flag: { type: 'boolean', default: false } },
        seq: [
          { type: 'i16', name: 't', scale: 0.1 },
          { type: 'u8', each: 'list' },
          { type: 'u8', const: 0xee, if: 'flag' },
          { ops: [{ sub: 0x33 }], seq: [{ type: 'bcd', size: 2, value: 1234, endian: 'little' }] },
        ],
      },
    },
  });
  assert.equal(hex(c.encode('set', { t: -1.5, list: [1, 2] })), 'FEFEFFF10102' + '6745');
  assert.equal(hex(c.encode('set', { t: 0, list: [], flag: true })), 'FEFE0000EE6745');
  assert.throws(() => c.encode('set', { t: 'x', list: [] }), /set\.t: expected a number/);
  assert.throws(() => c.encode('set', { t: 4000, list: [] }), /does not fit in i16/);
});

test('the first example of docs/contracts.md loads and passes its inline test', () => {
  const md = readFileSync(new URL('../../docs/contracts.md', import.meta.url), 'utf8');
  const yaml = /## A first contract[\s\S]*?```yaml\n([\s\S]*?)```/.exec(md)?.[1];
  assert.ok(yaml);
  const c = loadContract(yaml);
  assert.equal(c.runTests().passed, 1);
});

test('contracts load from JSON text and from YAML text alike; detectContract picks among candidates', () => {
  const doc = { id: 'j', framing: { start: 0x7e }, seq: [{ const: 0x7e }, { name: 'v', type: 'u8' }] };
  const fromJson = loadContract(JSON.stringify(doc));
  assert.deepEqual(fromJson.decode(parseHex('7E 05')), { ok: true, fields: { v: 5 }, points: [] });
  const other = loadContract({ id: 'k', framing: { start: 0x7f }, seq: [{ const: 0x7f }, { type: 'u8' }] });
  assert.equal(detectContract(parseHex('7F 01'), [fromJson, other])?.id, 'k');
  assert.equal(detectContract(parseHex('00 01'), [fromJson, other]), undefined);
});

test('switch keys: numbers, numeric strings and hex spellings match alike; misses go to default', () => {
  const c = one([
    { name: 'sel', type: 'u8' },
    {
      on: "sel == 0 ? '0x10' : (sel == 1 ? '16' : (sel == 2 ? 16 : (sel == 3 ? -1 : (sel == 4 ? '016' : sel))))",
      cases: { '0x10': [{ name: 'hit', value: "'sixteen'" }], '-1': [{ name: 'hit', value: "'minus one'" }] },
      default: [{ name: 'hit', value: "'default'" }],
    },
  ]);
  const hit = (sel: number) => fields(c.decode(Uint8Array.of(sel))).hit;
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(hit), [
    'sixteen',
    'sixteen',
    'sixteen',
    'minus one',
    'default',
    'default',
  ]);
});
