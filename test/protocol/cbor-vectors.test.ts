// The envelope decoder against byte-exact envelopes from other CBOR encoders (test/fixtures/cbor-vectors),
// and the CBOR it refuses, each with the field and reason it names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEnvelope, encodeEnvelope, EnvelopeError } from '../../src/protocol/envelope.ts';
import { MAX_DEPTH } from '../../src/protocol/cbor-check.ts';
import { accepted, refused, vectorBytes } from '../fixtures/cbor-vectors/vectors.ts';

for (const vector of accepted) {
  test(`cbor vectors: accepts ${vector.name} (${vector.encoder})`, () => {
    assert.deepEqual(decodeEnvelope(vectorBytes(vector.hex)), vector.expected);
  });
}

for (const vector of refused) {
  test(`cbor vectors: refuses ${vector.name} (${vector.encoder}), naming the field`, () => {
    assert.throws(
      () => decodeEnvelope(vectorBytes(vector.hex)),
      (err: unknown) => {
        assert.ok(err instanceof EnvelopeError, String(err));
        assert.equal(err.field, vector.field);
        assert.match(err.message, new RegExp(vector.reason.replace(/[()^]/g, '\\$&')));
        return true;
      },
    );
  });
}

test('cbor vectors: our encoder writes the same envelopes, with ms timestamps as float64', () => {
  for (const vector of accepted.filter((v) => v.encoder === 'cbor2')) {
    const wire = encodeEnvelope(vector.expected);
    assert.deepEqual(decodeEnvelope(wire), decodeEnvelope(vectorBytes(vector.hex)));
    // float64 (fb), not uint64 (1b): platforms older than uint64 support refuse the latter.
    assert.ok(wire.includes(Buffer.from('627473fb', 'hex')), 'ts as float64');
  }
});

/** A heartbeat envelope map with `extra` (CBOR hex of one key and value) as its last entry. */
function heartbeatWith(extraHex: string): Buffer {
  const base = { v: 1 as const, k: 'heartbeat' as const, gw: 'g', ts: 1 };
  const wire = encodeEnvelope(base);
  assert.equal(wire[0], 0xa4); // map(4)
  return Buffer.concat([
    Buffer.from([0xa5]),
    wire.subarray(1),
    Buffer.from(extraHex.replace(/\s/g, ''), 'hex'),
  ]);
}

const refusedCases: [string, string, string, RegExp][] = [
  ['text that is not UTF-8', '61 78 62 c3 28', 'x', /not UTF-8/],
  ['a simple value the protocol does not use', '61 78 f0', 'x', /simple value 16/],
  ['a 1-byte simple value', '61 78 f8 20', 'x', /simple value 32/],
  ['reserved additional information', '61 78 1c', 'x', /reserved additional information 28/],
  ['a break outside an indefinite item', '61 78 ff', 'x', /break outside/],
  ['an indefinite integer', '61 78 1f', 'x', /major type 0 cannot have an indefinite length/],
  ['a chunk of another type in an indefinite string', '61 78 5f 61 61 ff', 'x', /chunk of another type/],
  ['a tag deep in a context map', '61 78 a1 61 79 81 d8 20 61 7a', 'x.y[0]', /CBOR tag 32/],
  ['a negative integer below -(2^53 - 1)', '61 78 3b 00 1f ff ff ff ff ff ff', 'x', /-9007199254740992/],
];
for (const [name, hex, field, message] of refusedCases) {
  test(`cbor check: refuses ${name}, naming the field`, () => {
    assert.throws(
      () => decodeEnvelope(heartbeatWith(hex)),
      (err: unknown) => err instanceof EnvelopeError && err.field === field && message.test(err.message),
    );
  });
}

test('cbor check: integers at ±(2^53 - 1) in 8-byte heads are numbers', () => {
  const msg = decodeEnvelope(
    heartbeatWith('61 78 a2 61 61 1b 00 1f ff ff ff ff ff ff 61 62 3b 00 1f ff ff ff ff ff fe'),
  );
  assert.deepEqual((msg as unknown as { x: unknown }).x, {
    a: Number.MAX_SAFE_INTEGER,
    b: Number.MIN_SAFE_INTEGER,
  });
});

test('cbor check: indefinite strings as map keys and long chunks are read', () => {
  const long = 'ab'.repeat(600); // 600 bytes in two chunks of 300: the rewritten head needs 2 bytes
  const msg = decodeEnvelope(
    heartbeatWith(`7f 61 78 ff 5f 59 01 2c ${long.slice(0, 600)} 59 01 2c ${long.slice(600)} ff`),
  ) as unknown as { x: Buffer };
  assert.equal(msg.x.toString('hex'), long);
});

test('cbor check: trailing bytes, nesting too deep and truncation are refused', () => {
  const wire = encodeEnvelope({ v: 1, k: 'heartbeat', gw: 'g', ts: 1 });
  assert.throws(
    () => decodeEnvelope(Buffer.concat([wire, Buffer.from([0x00])])),
    /1 byte\(s\) after the end/,
  );
  assert.throws(() => decodeEnvelope(wire.subarray(0, wire.length - 1)), /ends inside an item/);
  const deep = `61 78 ${'81 '.repeat(MAX_DEPTH + 1)} 00`;
  assert.throws(() => decodeEnvelope(heartbeatWith(deep)), /nested deeper than 64 levels/);
  // A length far beyond the message is refused before anything is allocated for it.
  assert.throws(
    () => decodeEnvelope(heartbeatWith('61 78 9b 00 00 00 ff ff ff ff ff')),
    /ends inside an item/,
  );
});

test('cbor check: strings with 8-byte length heads are read, in one pass or beside a chunked string', () => {
  const text = 'y'.repeat(150); // a message of over 140 bytes: where cbor-x reads strings natively
  const a = `61 61 7b 00 00 00 00 00 00 00 96 ${Buffer.from(text).toString('hex')}`; // "a": text(150)
  const fields = `${a} 61 62 5b 00 00 00 00 00 00 00 02 01 02`; // "b": bytes(2)
  for (const chunked of [false, true]) {
    // A chunked (indefinite-length) string sends the message down the general path (cbor-check.ts).
    const extra = chunked ? `61 78 a3 ${fields} 61 63 7f 61 7a ff` : `61 78 a2 ${fields}`;
    const msg = decodeEnvelope(heartbeatWith(extra)) as unknown as { x: Record<string, unknown> };
    assert.equal(msg.x.a, text);
    assert.deepEqual(msg.x.b, Buffer.from([1, 2]));
    if (chunked) assert.equal(msg.x.c, 'z');
  }
});
