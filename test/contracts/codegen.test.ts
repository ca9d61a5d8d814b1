// Generated-code paths (inline integer reads in every order, inline flags, enums by array, field values
// kept in locals across blocks and closure fallbacks): on every frame, the generated decoder must give
// exactly what the closure plan gives.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadContract, type Contract } from '../../src/contracts/index.ts';

/** Deterministic pseudo-random bytes (xorshift), so a failure names a reproducible frame. */
function frames(count: number, minLen: number, maxLen: number, seed: number): Uint8Array[] {
  let x = seed;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const b = new Uint8Array(minLen + (next() % (maxLen - minLen + 1)));
    for (let j = 0; j < b.length; j++) b[j] = next() & 0xff;
    out.push(b);
  }
  return out;
}

function both(doc: Record<string, unknown>): { fast: Contract; slow: Contract } {
  const fast = loadContract({ id: 't', ...doc }, { runTests: false });
  const slow = loadContract({ id: 't', ...doc }, { runTests: false, generate: false });
  assert.equal((fast as unknown as { isGenerated: boolean }).isGenerated, true, 'decoder is generated');
  return { fast, slow };
}

function agree(doc: Record<string, unknown>, list: Uint8Array[], ctx?: Record<string, unknown>): number {
  const { fast, slow } = both(doc);
  let ok = 0;
  for (const f of list) {
    const copy = f.slice();
    const r = fast.decode(f, ctx);
    assert.deepEqual(r, slow.decode(f, ctx), `frame ${Buffer.from(f).toString('hex')}`);
    assert.deepEqual(f, copy, 'input not mutated');
    if (r.ok) ok++;
  }
  return ok;
}

test('integers of 1-4 bytes in every byte and word order read inline like the closure plan', () => {
  const seq = [
    { name: 'a', type: 'u24' },
    { name: 'b', type: 'i24le' },
    { name: 'c', type: 'u32', words: 'CDAB' },
    { name: 'd', type: 'i32', words: 'BADC' },
    { name: 'e', type: 'i32le' },
    { name: 'f', type: 'u32le', words: 'CDAB' },
    { name: 'g', type: 'i16le' },
    { name: 'h', type: 'i8' },
  ];
  const ok = agree({ seq, trailing: 'allow' }, frames(3000, 22, 30, 7));
  assert.ok(ok > 1000, `${ok} frames decoded`);
  const { fast } = both({ seq });
  const r = fast.decode(
    Uint8Array.from([
      1, 2, 3, 0xff, 0xff, 0xff, 3, 4, 1, 2, 2, 1, 4, 3, 1, 0, 0, 0x80, 3, 4, 1, 2, 0xfe, 0xff, 0x80,
    ]),
  );
  assert.ok(r.ok);
  assert.deepEqual(r.fields, {
    a: 0x010203,
    b: -1,
    c: 0x01020304,
    d: 0x01020304,
    e: -0x7fffffff,
    f: 0x01020304, // words override the byte order suffix
    g: -2,
    h: -128,
  });
});

test('flags of 1-4 bytes in both byte orders decode inline like the closure plan', () => {
  const seq = [
    { name: 'f1', type: 'flags', flags: { 0: 'a', 7: 'b', 3: 'c' } },
    { name: 'f2', type: 'flags', size: 2, endian: 'little', flags: { 15: 'hi', 0: 'lo' }, point: true },
    { name: 'f4', type: 'flags', size: 4, flags: { 31: 'top', 16: 'mid', 1: 'low', 2: 'low' } },
  ];
  assert.ok(agree({ seq }, frames(2000, 6, 8, 11)) > 100);
  const { fast } = both({ seq });
  const r = fast.decode(Uint8Array.from([0x81, 0x01, 0x80, 0x80, 0x01, 0x00, 0x04]));
  assert.ok(r.ok);
  assert.deepEqual(r.fields, {
    f1: { a: true, c: false, b: true },
    f2: { lo: true, hi: true },
    f4: { low: true, mid: true, top: true },
  });
});

test('enums with small integer keys (array lookup) and other keys match the closure plan', () => {
  const seq = [
    { name: 'a', type: 'u8', enum: { 0: 'zero', 2: 'two', '0x05': 'five', 255: 'max' } },
    { name: 'b', type: 'i8', enum: { 1: 'one', '-1': 'minus one' } },
    { name: 'c', value: 'a', enum: { two: 'TWO', 3: 'three' } },
    { name: 'd', type: 'u8', scale: 0.5, enum: { 1: 'half-two', 0.5: 'half-one' } },
    { name: 'e', type: 'u16', enum: { 4096: 'big', 1: 'one' } },
  ];
  assert.ok(agree({ seq }, frames(3000, 5, 6, 3)) > 100);
  const { fast } = both({ seq });
  const r = fast.decode(Uint8Array.from([2, 0xff, 2, 0x10, 0x00]));
  assert.ok(r.ok);
  assert.deepEqual(r.fields, { a: 'two', b: 'minus one', c: 'TWO', d: 'half-two', e: 'big' });
});

test('field values in locals: reassigned in blocks, switch arms, repeats and closure fallbacks', () => {
  // `x` is redefined inside an if, a switch arm, a sized struct and a bits fallback; every later
  // reference must see the value the closure plan sees.
  const seq = [
    { name: 'x', type: 'u8' },
    { name: 'k', type: 'u8' },
    { name: 'x', type: 'u8', if: 'k % 2 == 0' },
    { name: 'y', value: 'x + 1' },
    {
      on: 'k % 4',
      cases: {
        0: [{ name: 'x', type: 'u8' }],
        1: { name: 'x', value: "'text'" },
        2: { name: 'z', type: 'u8', repeat: 'x % 3' },
      },
      default: [
        {
          name: 'x',
          type: 'bits',
          fields: [
            { name: 'hi', bits: 4 },
            { name: 'lo', bits: 4 },
          ],
        },
      ],
    },
    { name: 'w', value: 'x + 1' },
    { name: 'v', value: 'x == 3 ? y * 2 : y - 1' },
    { type: 'struct', size: 1, seq: [{ name: 'x', type: 'u8' }] },
    { name: 'u', value: 'x + y', point: true },
    { name: 'bitsy', type: 'bits', fields: [{ name: 'x', bits: 8 }] },
    { name: 'x', type: 'u8' }, // a local again
    { name: 's', value: 'x + 1' },
    {
      type: 'bits',
      fields: [
        { name: 'x', bits: 3 },
        { name: 'q', bits: 5 },
      ],
    }, // unnamed: merges x
    { name: 't', value: 'x * 2', point: true },
  ];
  assert.ok(agree({ seq, trailing: 'allow' }, frames(4000, 2, 9, 5)) > 500);
});

test('Modbus-style direction and switch-key expressions over typed locals agree on random frames', () => {
  const seq = [
    { name: 'code', type: 'u8' },
    { name: 'function', value: 'code & 0x7F' },
    { name: 'code', value: 'code' }, // a duplicate in the top-level object literal
    { name: 'dir', value: "code >= 0x80 ? 'exception' : (function == 15 || function == 16 ? 'w' : 'r')" },
    {
      on: "code >= 0x80 ? 0 : function + (dir == 'w' ? 100 : 0)",
      cases: { 0: [{ name: 'e', type: 'u8' }] },
      default: [],
    },
    { name: 'table', value: 'function', enum: { 1: 'coil', 3: 'holding', 16: 'holding' } },
  ];
  assert.ok(agree({ seq, trailing: 'allow' }, frames(3000, 1, 3, 9)) > 1000);
});

test('the top-level object literal: closure fallbacks first, in the middle, or not at all', () => {
  const list = frames(1500, 0, 8, 13);
  for (const seq of [
    [
      { name: 'raw', type: 'bytes', size: 2, format: 'array' },
      { name: 'a', type: 'u8' },
    ],
    [
      { name: 'a', type: 'u8' },
      { name: 'raw', type: 'bytes', size: 2, format: 'array' },
      { name: 'b', value: 'a + 1' },
    ],
    [
      {
        type: 'bits',
        fields: [
          { name: 'x', bits: 4 },
          { name: 'y', bits: 4 },
        ],
      },
      { name: 'z', value: 'x' },
    ],
    [
      { name: 'a', type: 'u8', repeat: 2 },
      { name: 'n', type: 'u8', if: 'a[0] > 9' },
    ],
    [],
  ])
    agree({ seq, trailing: 'allow' }, list);
  // A generated decoder never reuses the previous frame's object.
  const { fast } = both({ seq: [{ name: 'a', type: 'u8', if: '$length > 1' }], trailing: 'allow' });
  const r1 = fast.decode(Uint8Array.from([1, 2]));
  const r2 = fast.decode(Uint8Array.from([3]));
  assert.ok(r1.ok && r2.ok);
  assert.deepEqual(r1.fields, { a: 1 });
  assert.deepEqual(r2.fields, {});
});

test('struct and transform objects built as literals: nested, sized, repeated, conditional, with fallbacks', () => {
  const list = frames(2000, 0, 12, 17);
  const inner = [
    { name: 'a', type: 'u8' },
    { name: 'b', value: 'a * 2' },
    {
      name: 'in',
      type: 'struct',
      seq: [
        { name: 'c', type: 'u8' },
        { name: 'd', value: 'c + a' },
      ],
    },
    { name: 'e', type: 'u8', if: 'a > 100' },
  ];
  for (const seq of [
    [{ name: 's', type: 'struct', seq: inner }],
    [{ name: 's', type: 'struct', size: 4, seq: inner }],
    [{ name: 's', type: 'struct', seq: inner, repeat: 'until-end' }],
    [
      { name: 'k', type: 'u8' },
      { name: 's', type: 'struct', seq: inner, if: 'k % 2 == 1' },
    ],
    [{ name: 's', type: 'struct', seq: [{ type: 'bits', fields: [{ name: 'x', bits: 8 }] }, ...inner] }],
    [
      { name: 's', type: 'struct', seq: [] },
      { name: 'n', type: 'u8' },
    ],
    [
      {
        name: 's',
        type: 'struct',
        size: 2,
        seq: [
          { name: 'a', type: 'u8' },
          { name: 'b', type: 'u8' },
        ],
      },
      { name: 'z', value: 's.a + s.b' },
    ],
    [
      { name: 's', type: 'struct', seq: [{ name: 'a', type: 'u8' }] },
      { name: 'z', value: 's.a' },
    ],
    [{ name: 't', type: 'transform', size: 2, ops: [{ sub: 0x33 }], seq: [{ name: 'a', type: 'u16' }] }],
    [{ name: 't', type: 'transform', size: 4, ops: [{ xor: 0x55 }, { reverse: true }], seq: inner }],
    [{ name: 'w', on: 1, cases: { 1: [{ name: 's', type: 'struct', seq: inner }] } }],
  ])
    agree({ seq, trailing: 'allow' }, list);
});

test('$value in point names and units, and read outside a check, agrees with the closure plan', () => {
  const list = frames(500, 0, 4, 23);
  agree(
    { seq: [{ name: 'a', type: 'u8', point: 'p_${$value}', unit: 'u${$value}' }], trailing: 'allow' },
    list,
  );
  agree(
    {
      seq: [
        { name: 'a', type: 'u8', point: true },
        { name: 'b', value: '$value' },
      ],
      trailing: 'allow',
    },
    list,
  );
});

test('BCD of 1-6 bytes inline (either byte and nibble order) and signed or longer via the helper agree', () => {
  const seq = [
    { name: 'a', type: 'bcd', size: 1 },
    { name: 'b', type: 'bcd', size: 2, endian: 'little' },
    { name: 'c', type: 'bcd', size: 3, nibbles: 'low-first' },
    { name: 'd', type: 'bcd', size: 4, endian: 'little', nibbles: 'low-first', scale: 0.01 },
    { name: 'e', type: 'bcd', size: 2, signed: true },
    { name: 'f', type: 'bcd', size: 6, format: 'string' },
    { name: 'g', type: 'bcd', size: 7 },
  ];
  // Mostly valid digits (each nibble 0-9 with high probability) so that many frames decode.
  const list = frames(3000, 20, 26, 29).map((f) =>
    f.map((x) => (x % 64 !== 0 ? (((x >> 4) % 10) << 4) | ((x & 15) % 10) : x)),
  );
  assert.ok(agree({ seq, trailing: 'allow' }, list) > 100);
  const { fast } = both({ seq: seq.slice(0, 4) });
  const r = fast.decode(Uint8Array.from([0x12, 0x34, 0x12, 0x21, 0x43, 0x65, 0x21, 0x43, 0x65, 0x87]));
  assert.ok(r.ok);
  assert.deepEqual(r.fields, { a: 12, b: 1234, c: 123456, d: 785634.12 });
  assert.equal(fast.decode(Uint8Array.from([0x1a, 0, 0, 0, 0, 0, 0, 0, 0, 0])).ok, false);
});

test('string-typed locals (bytes, hex format, BCD strings): comparisons and concatenation agree', () => {
  const seq = [
    { name: 'raw', type: 'bytes', size: 2 },
    { name: 'eq1', value: "raw == '0102'" },
    { name: 'eq2', value: 'raw == 102' },
    { name: 'h', type: 'u8', format: 'hex' },
    { name: 'eq3', value: "h == '0x05' || h == raw" },
    { name: 'd', type: 'bcd', size: 1, format: 'string' },
    { name: 'eq4', value: "d == '07' ? 1 : (d == 7 ? 2 : 0)" },
    { name: 'cat', value: 'raw + h + d', point: 'n_${raw}_${d}' },
  ];
  const list = frames(3000, 4, 5, 31).map((f, i) =>
    i % 3 === 0 ? Uint8Array.from([1, 2, 5, 7, ...f.subarray(4)]) : f,
  );
  assert.ok(agree({ seq, trailing: 'allow' }, list) > 900);
  const { fast } = both({ seq });
  const r = fast.decode(Uint8Array.from([1, 2, 5, 7]));
  assert.ok(r.ok);
  assert.deepEqual(r.fields, {
    raw: '0102',
    eq1: true,
    eq2: true, // a numeric string equals its number
    h: '0x05',
    eq3: true,
    d: '07',
    eq4: 1,
    cat: '01020x0507',
  });
});

test('point names head + literal + integer come from a per-site table, same strings as the closure plan', () => {
  // Head: an enum label (string), or the raw number when the enum misses (not cached); tail: start +
  // $index from the context, which may be an integer in or out of 0–65535, a fraction, -0 or a string.
  const doc = {
    seq: [
      { name: 'kind', type: 'u8', enum: { 1: 'coil', 2: 'holding', 3: 'input' } },
      { name: 'regs', type: 'u8', repeat: 'until-end' },
    ],
    points: [
      { each: 'regs', name: "${kind + '.' + (ctx.start + $index)}", value: '$item' },
      { each: 'regs', name: "${'r' + '/' + ($item * 300)}", value: '$index' },
      { name: "${'const.' + ctx.start}", value: 'kind' },
    ],
  };
  const list = frames(400, 1, 12, 11);
  for (const start of [0, 3, 65530, 65535, 70000, -1, -0, 1.5, '7', undefined, Number.NaN])
    agree(doc, list, { start });
  const { fast } = both(doc);
  const r = fast.decode(Uint8Array.of(2, 9, 9), { start: 65535 });
  assert.ok(r.ok);
  assert.deepEqual(
    r.points.map((p) => p.name),
    ['holding.65535', 'holding.65536', 'r/2700', 'r/2700', 'const.65535'],
  );
  // Every name is right also past the table's bounds (many heads, many integers).
  const many = {
    seq: [
      { name: 'h', type: 'u8' },
      { name: 'hs', value: "'h' + h" },
      { name: 'v', type: 'u16' },
    ],
    points: [{ name: "${hs + ':' + v}", value: 'v' }],
  };
  const { fast: f2, slow: s2 } = both(many);
  for (let i = 0; i < 20000; i++) {
    const frame = Uint8Array.of(i % 97, (i * 7919) >> 8, (i * 7919) & 255);
    const want = s2.decode(frame);
    assert.deepEqual(f2.decode(frame), want);
    assert.equal(want.ok && want.points[0]!.name, `h${frame[0]}:${(frame[1]! << 8) | frame[2]!}`);
  }
});

test('each-rules fill a points array of the list length, trimmed when items are skipped, appended after', () => {
  // regs: numbers; parts: objects (not scalars: no point) or numbers; a field point comes first when flagged.
  const doc = {
    seq: [
      { name: 'flag', type: 'u8' },
      { name: 'lead', type: 'u8', point: true, if: 'flag & 1' },
      { name: 'n', type: 'u8' },
      { name: 'regs', type: 'u8', repeat: 'n % 8' },
      {
        name: 'parts',
        type: 'u8',
        repeat: 'until-end',
        enum: { 1: 'one', 2: 'two' },
      },
    ],
    points: [
      { each: 'regs', name: 'r${$index}', value: '$item' },
      { if: 'flag & 2', each: 'parts', name: 'p${$index}', value: "$item == 'one' ? ctx.none : $item" },
      { each: 'parts', name: 'q${$index}', value: '$item' },
    ],
  };
  const ok = agree(doc, frames(3000, 2, 20, 23));
  assert.ok(ok > 1000, `${ok} frames decoded`);
  const { fast } = both(doc);
  const r = fast.decode(Uint8Array.of(2, 2, 7, 9, 1, 5));
  assert.ok(r.ok);
  assert.deepEqual(
    r.points.map((p) => `${p.name}=${String(p.value)}`),
    ['r0=7', 'r1=9', 'p1=5', 'q0=one', 'q1=5'],
  );
  assert.equal(r.points.length, 5);
  // A long list (past the up-front bound) still gives every point.
  const long = {
    seq: [{ name: 'v', type: 'u8', repeat: 'until-end' }],
    points: [{ each: 'v', name: 'v${$index}', value: '$item' }],
  };
  const { fast: f2, slow: s2 } = both(long);
  const frame = Uint8Array.from({ length: 1500 }, (_, i) => i & 255);
  const got = f2.decode(frame);
  assert.deepEqual(got, s2.decode(frame));
  assert.equal(got.ok && got.points.length, 1500);
});

test('scale 1/D on integer reads and BCD divides by D: same numbers as rounding, for every 16-bit value', () => {
  const scales: [string, number, number | undefined][] = [
    ['i16', 0.1, undefined],
    ['u16', 0.5, undefined],
    ['i16', 0.001, undefined],
    ['u16le', 0.01, undefined],
    ['i16', 0.0001, undefined],
    ['i16', 0.25, undefined], // D = 4 divides 10^7
    ['u16', 1, 2], // decimals only: an integer stays itself
    ['i16', 0.1, 3],
    ['u16', 0.3, undefined], // not 1/D: rounds as before
    ['i16', 0.1, 0], // 10^0 is not a multiple of 10: rounds as before
  ];
  for (const [type, scale, decimals] of scales) {
    const doc = {
      seq: [{ name: 'v', type, scale, ...(decimals === undefined ? {} : { decimals }), point: 'v' }],
    };
    const { fast, slow } = both(doc);
    for (let raw = 0; raw < 65536; raw++) {
      const frame = Uint8Array.of(raw >> 8, raw & 255);
      const [a, b] = [fast.decode(frame), slow.decode(frame)];
      // Object.is: -0 and 0 differ too.
      assert.ok(a.ok && b.ok && Object.is(a.fields.v, b.fields.v), `${type} ${scale} ${decimals} ${raw}`);
    }
  }
  const src = (doc: Record<string, unknown>) =>
    String((both(doc).fast as unknown as { source: unknown }).source);
  assert.match(src({ seq: [{ name: 'v', type: 'i16', scale: 0.1 }] }), /(v\d+) = \1 \/ 10;/);
  assert.doesNotMatch(src({ seq: [{ name: 'v', type: 'u16', scale: 0.3 }] }), /(v\d+) = \1 \/ \d+;/);
  assert.doesNotMatch(src({ seq: [{ name: 'v', type: 'u32', scale: 0.1 }] }), /(v\d+) = \1 \/ \d+;/);
  // Wider reads and BCD (signed too), sampled: 24/32-bit, 4-byte BCD, and a u32 too wide for the division.
  const wide = {
    seq: [
      { name: 'a', type: 'i24', scale: 0.0001 },
      { name: 'b', type: 'u32', scale: 0.1 },
      { name: 'c', type: 'i32le', scale: 0.01 },
      { name: 'd', type: 'bcd', size: 4, scale: 0.01 },
      { name: 'e', type: 'bcd', size: 3, signed: true, scale: 0.0001 },
      { name: 'f', type: 'bcd', size: 2, signed: true, scale: 0.001, decimals: 3 },
      { name: 'g', type: 'bcd', size: 1, signed: true, decimals: 2 }, // D = 1; -0 must become 0
    ],
  };
  const list = frames(4000, 21, 21, 99).map((f) => {
    // Mostly valid BCD digits, so the BCD fields decode.
    for (let i = 11; i < 21; i++) f[i] = ((f[i]! >> 4) % 10) * 16 + ((f[i]! & 15) % 10);
    return f;
  });
  const { fast, slow } = both(wide);
  let ok = 0;
  for (const f of list) {
    const [a, b] = [fast.decode(f), slow.decode(f)];
    assert.deepEqual(a, b);
    if (a.ok && b.ok) {
      for (const k of Object.keys(b.fields)) assert.ok(Object.is(a.fields[k], b.fields[k]), k);
      ok++;
    }
  }
  assert.ok(ok > 1000, `${ok} decoded`);
});

test('point name templates text${n}, text${n}text, ${head}text${n}(text) use the name table, same strings', () => {
  const doc = {
    seq: [
      { name: 'n', type: 'i8' },
      { name: 'k', type: 'u8', enum: { 1: 'one', 2: 'two' } },
      { name: 'h', value: 'k' },
    ],
    points: [
      { name: 'a_${n * ctx.m}', value: 'n' },
      { name: 'b_${n * ctx.m}_x', value: 'n' },
      { name: '${h}.${n * ctx.m}', value: 'n' },
      { name: '${h}.${n * ctx.m}!', value: 'n' },
      { name: '${h}:${ctx.m}', value: 'n' },
    ],
  };
  const list = frames(600, 2, 2, 5);
  for (const m of [1, 1000, 0.5, -1, '3', undefined]) agree(doc, list, { m });
  const { fast } = both(doc);
  const r = fast.decode(Uint8Array.of(7, 2), { m: 1 });
  assert.ok(r.ok);
  assert.deepEqual(
    r.points.map((p) => p.name),
    ['a_7', 'b_7_x', 'two.7', 'two.7!', 'two:1'],
  );
});

test('points loops: a field head read once before the loop gives the same names as the closure plan', () => {
  // The head changes from frame to frame (labels, an unmatched number, a string from the frame), the
  // tail is anything the context gives; a field's own point comes first in one of the documents, so
  // both ways of allocating the points array are exercised.
  const seq = [
    { name: 'k', type: 'u8', enum: { 1: 'holding', 2: 'input', 3: 'coil' } },
    { name: 'regs', type: 'u8', repeat: 3 },
  ];
  const rules = [
    { each: 'regs', name: '${ctx.names[$index] ?? k + "." + (ctx.start + $index)}', value: '$item' },
    { each: 'regs', name: '${k}/${$item}', value: '$index' },
  ];
  const list = frames(300, 4, 4, 11).map((f) => ((f[0] = f[0]! % 5), f));
  const starts = [0, 3, 65534, 70000, -2, 1.5, '7', undefined];
  for (const doc of [
    { seq, points: rules },
    { seq: [{ name: 'first', type: 'u8', point: 'first' }, ...seq], points: rules, trailing: 'allow' },
  ]) {
    for (const start of starts) agree(doc, list, { start });
    agree(doc, list, { start: 1, names: ['a', undefined, 'c'] });
  }
  const { fast } = both({ seq, points: rules });
  assert.match(String((fast as unknown as { source: unknown }).source), /const hd\d+ = /);
  const names = (b: number[], start: number) => {
    const r = fast.decode(Uint8Array.from(b), { start });
    assert.ok(r.ok);
    return r.points.map((p) => p.name);
  };
  // Alternating heads: each frame's names follow its own head.
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(names([1, 5, 6, 7], 10), [
      'holding.10',
      'holding.11',
      'holding.12',
      'holding/5',
      'holding/6',
      'holding/7',
    ]);
    assert.deepEqual(names([2, 5, 6, 7], 65535), [
      'input.65535',
      'input.65536',
      'input.65537',
      'input/5',
      'input/6',
      'input/7',
    ]);
    assert.deepEqual(names([4, 0, 0, 0], 0), ['4.0', '4.1', '4.2', '4/0', '4/0', '4/0']);
  }
});

test('an unnamed switch of simple cases builds its level in one literal per case, same fields as the closure plan', () => {
  const item = {
    seq: [
      { name: 'ch', type: 'u8' },
      { name: 'kind', type: 'u8' },
      {
        on: 'kind % 5',
        cases: {
          0: { name: 't', type: 'i16', scale: 0.1, point: 't_${ch}', valid: '$value > -100 || ch == 0' },
          1: [
            { name: 'x', type: 'i8' },
            { name: 'ch', type: 'u8' }, // the same name again: keeps its place, takes the new value
          ],
          2: [{ name: 'b', type: 'bcd', size: 1 }, { type: 'u8' }],
          3: null,
        },
        default: [{ name: 'raw', type: 'u16le', enum: { 1: 'one' } }],
      },
    ],
  };
  const doc = {
    types: { item },
    seq: [{ name: 'items', type: 'item', repeat: 'until-end' }],
    points: [{ each: 'items', name: 'kind_${$index}', value: '$item.kind' }],
  };
  const ok = agree(doc, frames(3000, 2, 12, 21));
  assert.ok(ok > 300, `${ok} frames decoded`);
  const { fast } = both(doc);
  const src = String((fast as unknown as { source: unknown }).source);
  assert.match(src, /o\d+ = \{ ch: v\d+, kind: v\d+, t: v\d+ \};/);
  const r = fast.decode(Uint8Array.of(7, 6, 4, 2, 0, 3));
  assert.ok(r.ok);
  assert.deepEqual(r.fields.items, [
    { ch: 2, kind: 6, x: 4 },
    { ch: 0, kind: 3 },
  ]);
  assert.deepEqual(Object.keys((r.fields.items as object[])[0]!), ['ch', 'kind', 'x']);
});

test('a switch on integer and text keys picks the same case as the closure plan for every kind of key value', () => {
  const on =
    "b == 0 ? 'error' : b == 1 ? '17' : b == 2 ? 17 : b == 3 ? true : b == 4 ? 1.5 : b == 5 ? 'x' : " +
    "b == 6 ? '0x11' : b == 7 ? 'Error' : b == 8 ? '-3' : b == 9 ? -3 : b == 10 ? ctx.none : b";
  const doc = {
    seq: [
      { name: 'b', type: 'u8' },
      {
        on,
        cases: {
          error: { name: 'e', value: 1 },
          Error: { name: 'E', value: 1 },
          '0x11': { name: 'seventeen', value: 1 },
          true: { name: 'yes', value: 1 },
          '-3': { name: 'minus3', value: 1 },
          undefined: { name: 'undef', value: 1 },
          200: { name: 'two_hundred', value: 1 },
        },
        default: { name: 'other', value: 'b' },
      },
    ],
  };
  const all = Array.from({ length: 256 }, (_, i) => Uint8Array.of(i));
  assert.equal(agree(doc, all), 256);
  const { fast } = both(doc);
  assert.match(String((fast as unknown as { source: unknown }).source), /switch \(typeof k\d+ === 'number'/);
  const field = (b: number) => {
    const r = fast.decode(Uint8Array.of(b));
    assert.ok(r.ok);
    return Object.keys(r.fields)[1];
  };
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 200, 11].map(field), [
    'e',
    'seventeen',
    'seventeen',
    'yes',
    'other',
    'other',
    'seventeen',
    'E',
    'minus3',
    'minus3',
    'undef',
    'two_hundred',
    'other',
  ]);
});

test('a transformed region read into the reused scratch array: a short frame after a long one sees none of its bytes', () => {
  // The size comes from the frame and the region is read to its end: any byte left in the scratch array
  // from the frame before would show as an extra value, or hide a truncation.
  const seq = [
    { name: 'n', type: 'u8' },
    {
      name: 't',
      type: 'transform',
      size: 'n',
      ops: [{ sub: 0x33 }, { reverse: true }],
      seq: [{ name: 'v', type: 'u8', repeat: 'until-end', point: 'v.${$index}' }],
    },
  ];
  const long = Uint8Array.from([6, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39]);
  const short = Uint8Array.from([2, 0x40, 0x41]);
  const truncated = Uint8Array.from([3, 0x40]);
  const ok = agree({ seq, trailing: 'allow' }, [long, short, long, truncated, long, short]);
  assert.equal(ok, 5);
  const { fast } = both({ seq });
  fast.decode(long);
  const r = fast.decode(short);
  assert.ok(r.ok);
  assert.deepEqual(r.fields, { n: 2, t: { v: [0x41 - 0x33, 0x40 - 0x33] } });
  // and a region too large for the scratch array still decodes (a new array for it)
  const seqBig = [{ name: 'n', type: 'u16' }, seq[1]!];
  const big = Uint8Array.from([1, 44, ...Array.from({ length: 300 }, (_, i) => (i + 0x33) & 255)]);
  assert.equal(agree({ seq: seqBig, trailing: 'allow' }, [big, Uint8Array.from([0, 2, 0x40, 0x41]), big]), 3);
});
