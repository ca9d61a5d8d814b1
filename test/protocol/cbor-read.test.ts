// The one-pass CBOR reader (src/protocol/cbor-read.ts) against the general path it stands in front of,
// checkCbor() then cbor-x: on generated messages — every head width, float width, indefinite lengths,
// odd keys and strings — both must give the same value, and on broken ones the reader must give up
// (NOT_READ) wherever the general path refuses, so refusals keep coming from one place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Decoder, type Options } from 'cbor-x';
import { checkCbor } from '../../src/protocol/cbor-check.ts';
import { NOT_READ, readCbor } from '../../src/protocol/cbor-read.ts';
import { encodeEnvelope, type Frame } from '../../src/protocol/envelope.ts';
import { accepted, refused, vectorBytes } from '../fixtures/cbor-vectors/vectors.ts';
import { seededRandom } from '../support/random.ts';

// The general path as decodeEnvelope() runs it (src/protocol/envelope.ts).
const cborX = new Decoder({ useRecords: false, mapsAsObjects: true, int64AsNumber: true } as Options);
type Outcome = { value: unknown } | { refused: string };
function generalPath(buf: Uint8Array): Outcome {
  try {
    return { value: cborX.decode(checkCbor(buf)) };
  } catch (err) {
    return { refused: (err as Error).message };
  }
}

/** CBOR item heads in every width, not only the shortest, as fixed-width encoders write them. */
function head(major: number, value: number, pick: () => number): number[] {
  const type = major << 5;
  const widths = [value < 24 ? 0 : -1, value < 0x100 ? 1 : -1, value < 0x10000 ? 2 : -1];
  widths.push(value < 0x1_0000_0000 ? 4 : -1, 8);
  const usable = widths.filter((w) => w >= 0);
  const width = usable[Math.floor(pick() * usable.length)]!;
  if (width === 0) return [type | value];
  const out = [type | (width === 1 ? 24 : width === 2 ? 25 : width === 4 ? 26 : 27)];
  for (let i = width - 1; i >= 0; i--) out.push(Math.floor(value / 2 ** (8 * i)) % 256);
  return out;
}

const TEXTS = ['', 'v', 'ts', 'dev', 'dlt645-2007', '__proto__', '0', '17', 'x'.repeat(40), 'Zähler-1'];
TEXTS.push('温度 °C', '🙂 emoji', '\uFEFFwith a byte order mark', `\uFEFF${'b'.repeat(70)}`, 'é'.repeat(40));
const INTEGERS = [0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 1_763_758_790_000];
INTEGERS.push(Number.MAX_SAFE_INTEGER);
// Half, single and double precision bit patterns: normal, subnormal, ±0, ±∞, NaN.
const HALVES = ['3c00', 'c000', '0001', '03ff', '8000', '0000', '7c00', 'fc00', '7e00', '7bff', '3555'];
const SINGLES = ['3fc00000', '7f800000', 'ff800000', '7fc00000', '00000001', '80000000', '47c35000'];
const DOUBLES = ['3ff199999999999a', '427b9aa837557000', '8000000000000000', '7ff8000000000000'];

/** One random item, nested up to `depth` levels, as bytes. */
function item(pick: () => number, depth: number): number[] {
  const choose = <T>(xs: T[]) => xs[Math.floor(pick() * xs.length)]!;
  const kind = Math.floor(pick() * (depth > 0 ? 10 : 7));
  switch (kind) {
    case 0:
      return head(0, choose(INTEGERS), pick);
    case 1:
      return head(1, Math.min(choose(INTEGERS), Number.MAX_SAFE_INTEGER - 1), pick); // ≥ −(2^53 − 1)
    case 2: {
      const text = Buffer.from(choose(TEXTS));
      return [...head(3, text.length, pick), ...text];
    }
    case 3: {
      const bytes = Array.from({ length: Math.floor(pick() * 30) }, () => Math.floor(pick() * 256));
      return [...head(2, bytes.length, pick), ...bytes];
    }
    case 4: {
      const float = choose([...HALVES, ...SINGLES, ...DOUBLES]);
      return [0xf9 + [4, 8, 16].indexOf(float.length), ...Buffer.from(float, 'hex')];
    }
    case 5:
    case 6:
      return [choose([0xf4, 0xf5, 0xf6, 0xf7])];
    case 7: {
      const count = Math.floor(pick() * 5);
      const items = Array.from({ length: count }, () => item(pick, depth - 1)).flat();
      return pick() < 0.3 ? [0x9f, ...items, 0xff] : [...head(4, count, pick), ...items];
    }
    default:
      return map(pick, depth - 1);
  }
}

function map(pick: () => number, depth: number): number[] {
  const count = Math.floor(pick() * 6);
  const entries: number[] = [];
  for (let i = 0; i < count; i++) {
    const key = Buffer.from(TEXTS[Math.floor(pick() * TEXTS.length)]!);
    entries.push(...head(3, key.length, pick), ...key, ...item(pick, depth));
  }
  return pick() < 0.3 ? [0xbf, ...entries, 0xff] : [...head(5, count, pick), ...entries];
}

/** Many generated messages: maps (as envelopes are) and a few other top-level items. */
function messages(seed: number, count: number): Buffer[] {
  const pick = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const body = i % 10 === 0 ? item(pick, 4) : map(pick, 4);
    return Buffer.from(pick() < 0.2 ? [0xd9, 0xd9, 0xf7, ...body] : body);
  });
}

test('cbor read: gives the value cbor-x gives after the check, for generated messages', () => {
  const bom = Buffer.from('\uFEFF');
  for (const buf of messages(1, 3000)) {
    const general = generalPath(buf);
    const fast = readCbor(buf);
    assert.ok('value' in general, `the general path accepts ${buf.toString('hex')}`);
    if (fast !== NOT_READ) assert.deepStrictEqual(fast, general.value, buf.toString('hex'));
    // Only a string with a byte order mark, or a tagged undefined, is left to cbor-x.
    else assert.ok(buf.includes(bom) || buf.toString('hex') === 'd9d9f7f7', buf.toString('hex'));
  }
});

test('cbor read: gives up wherever the general path refuses, on broken messages', () => {
  const pick = seededRandom(2);
  let refusals = 0;
  for (const buf of messages(3, 1500)) {
    // Truncated, with a byte appended, and with one byte changed: most are refused.
    const cut = buf.subarray(0, Math.floor(pick() * buf.length));
    const longer = Buffer.concat([buf, Buffer.from([Math.floor(pick() * 256)])]);
    const changed = Buffer.from(buf);
    changed[Math.floor(pick() * buf.length)] = Math.floor(pick() * 256);
    for (const broken of [cut, longer, changed]) {
      const general = generalPath(broken);
      const fast = readCbor(broken);
      if ('refused' in general) {
        refusals++;
        assert.equal(fast, NOT_READ, `${broken.toString('hex')} is refused: ${general.refused}`);
      } else if (fast !== NOT_READ) assert.deepStrictEqual(fast, general.value, broken.toString('hex'));
    }
  }
  assert.ok(refusals > 1500, `${refusals} refusals among the broken messages`);
});

test('cbor read: reads the interop vectors but indefinite-length strings, gives up on refused CBOR', () => {
  for (const vector of [...accepted, ...refused]) {
    const buf = vectorBytes(vector.hex);
    const general = generalPath(buf);
    const fast = readCbor(buf);
    // Refused by the CBOR check (not by the envelope check after it), or with chunked strings.
    if ('refused' in general || vector.encoder.startsWith('libcbor'))
      assert.equal(fast, NOT_READ, vector.name);
    else assert.deepStrictEqual(fast, general.value, vector.name);
  }
});

test('cbor read: a data group as mqiot writes it is read in one pass, raw a view of the message', () => {
  const frames: Frame[] = Array.from({ length: 3 }, (_, i) => ({
    dev: `meter-${i}`,
    c: 'dlt645-2007',
    ts: 1_763_758_790_000 + i,
    seq: i,
    raw: Buffer.from([0x68, i, 0x16]),
    ctx: { di: '00010000' },
  }));
  const wire = encodeEnvelope({ v: 1, k: 'data', gw: 'g', seq: 1, ts: 1_763_758_790_000, frames });
  const value = readCbor(wire) as { frames: Frame[] };
  assert.notEqual(value, NOT_READ);
  assert.deepStrictEqual({ value }, generalPath(wire));
  const raw = value.frames[2]!.raw;
  assert.ok(Buffer.isBuffer(raw));
  assert.equal(raw.buffer, wire.buffer, 'not a copy');
});

test('cbor read: map keys and strings repeated across messages are equal, not mixed up', () => {
  // Short strings come from a cache keyed by a hash of their bytes; strings that share a slot or a
  // length must still come out as themselves.
  const texts = Array.from({ length: 20_000 }, (_, i) => `k${i.toString(36)}`);
  for (let round = 0; round < 2; round++)
    for (const text of texts) {
      const bytes = Buffer.from(text);
      assert.equal(readCbor(Buffer.from([0x60 | bytes.length, ...bytes])), text);
    }
});

test('short strings that share the cache slot (the same length and sampled bytes) still read as themselves', () => {
  // The slot comes from the length, the first, middle and last four bytes: these differ only at index 2
  // (and one has a non-ASCII byte there), so each read evicts the other.
  const texts = [
    'aaXaaaaaaaaa',
    'aaYaaaaaaaaa',
    'aa\u00e9aaaaaaaa'.slice(0, 11),
    'aaXaaaaaaaaa',
    'aaYaaaaaaaaa',
  ];
  const bytes = texts.map((t) => Buffer.from(t));
  assert.equal(bytes[0]!.length, bytes[2]!.length, 'the UTF-8 one has the same byte length');
  const message = Buffer.concat([
    Buffer.from([0x80 + texts.length]),
    ...bytes.map((b) => Buffer.concat([Buffer.from([0x60 + b.length]), b])),
  ]);
  for (let round = 0; round < 3; round++) assert.deepEqual(readCbor(message), texts);
});
