// Fuzzed and mutated frames for every built-in: decode never throws, never hangs, and fails with an
// offset inside the frame and a named reason; split always makes progress.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import {
  builtinContract,
  builtinContractSource,
  listBuiltinContracts,
  loadContract,
  type Contract,
} from '../../src/contracts/index.ts';
import { parseHex } from '../../src/contracts/primitives.ts';
import { seededRandom } from '../support/random.ts';

const REASONS = /^(truncated|checksum|framing|invalid|length): /;

function seedFrames(id: string): Uint8Array[] {
  const doc = parse(builtinContractSource(id)) as { tests?: { hex: string }[] };
  return (doc.tests ?? []).map((t) => parseHex(t.hex));
}

function checkDecode(c: Contract, frame: Uint8Array): void {
  let r;
  try {
    r = c.decode(frame);
  } catch (err) {
    assert.fail(`${c.id}: decode threw on ${Buffer.from(frame).toString('hex')}: ${String(err)}`);
  }
  if (!r.ok) {
    assert.ok(
      Number.isInteger(r.error.offset) && r.error.offset >= 0 && r.error.offset <= frame.length,
      `${c.id}: offset ${r.error.offset} of ${frame.length}`,
    );
    assert.match(r.error.reason, REASONS);
  } else {
    assert.ok(Array.isArray(r.points));
  }
}

function checkSplit(c: Contract, stream: Uint8Array): void {
  const r = c.split(stream);
  if ('need' in r) assert.ok(r.need >= 1);
  else if ('skip' in r) assert.ok(r.skip >= 1 && r.skip <= stream.length);
  else assert.ok(r.end > r.start && r.end <= stream.length);
}

for (const id of listBuiltinContracts()) {
  test(`fuzz ${id}: bit flips, truncations, extensions and random frames`, () => {
    const c = builtinContract(id);
    const seeds = seedFrames(id);
    assert.ok(seeds.length > 0);
    let failures = 0;
    for (const seed of seeds) {
      for (let bit = 0; bit < seed.length * 8; bit++) {
        const m = seed.slice();
        m[bit >> 3]! ^= 1 << (bit & 7);
        checkDecode(c, m);
        if (!c.decode(m).ok) failures++;
      }
      for (let len = 0; len < seed.length; len++) {
        checkDecode(c, seed.subarray(0, len));
        checkSplit(c, seed.subarray(0, len));
      }
      checkDecode(c, Uint8Array.from([...seed, 0x00]));
    }
    const rand = seededRandom(0xc0ffee ^ id.length);
    for (let i = 0; i < 3000; i++) {
      const frame = new Uint8Array(Math.floor(rand() * 64));
      for (let k = 0; k < frame.length; k++) frame[k] = Math.floor(rand() * 256);
      // Half of them start like the seed so they get past the framing checks.
      if (i % 2 === 0 && seeds[i % seeds.length])
        frame.set(seeds[i % seeds.length]!.subarray(0, Math.min(frame.length, 3)));
      checkDecode(c, frame);
      if (frame.length > 0) checkSplit(c, frame);
    }
    // Frames with checksums reject almost every single-bit flip.
    if (['dlt645-2007', 'modbus-rtu', 'acme-th10'].includes(id)) assert.ok(failures > 0);
  });
}

test('a hostile contract cannot loop forever: zero-size repeats fail, huge counts are bounded', () => {
  const zero = loadContract({ id: 'z', seq: [{ name: 'r', value: 1, repeat: 'until-end' }] });
  const r1 = zero.decode(Uint8Array.of(1, 2));
  assert.ok(!r1.ok && r1.error.reason === 'invalid: repeated element consumed no bytes');
  const huge = loadContract({
    id: 'h',
    seq: [
      { name: 'n', type: 'u32' },
      { name: 'r', value: 0, repeat: 'n' },
    ],
  });
  const t0 = Date.now();
  const r2 = huge.decode(Uint8Array.of(0xff, 0xff, 0xff, 0xff));
  assert.ok(!r2.ok && r2.error.reason.startsWith('invalid: repeat count'));
  assert.ok(Date.now() - t0 < 1000);
});

// The generated decoders and the closure plan are two back ends of one compiler: they must agree on
// every frame, good or bad (fields, points, error offset and reason).
for (const id of listBuiltinContracts()) {
  test(`generated and interpreted decoders of ${id} agree on mutated and random frames`, () => {
    const fast = builtinContract(id);
    const slow = loadContract(builtinContractSource(id), { runTests: false, generate: false });
    assert.equal((fast as unknown as { isGenerated: boolean }).isGenerated, true);
    const rand = seededRandom(0xbeef + id.length);
    const frames: Uint8Array[] = [];
    for (const seed of seedFrames(id)) {
      frames.push(seed);
      for (let bit = 0; bit < seed.length * 8; bit += 3) {
        const m = seed.slice();
        m[bit >> 3]! ^= 1 << (bit & 7);
        frames.push(m);
      }
      for (let len = 0; len < seed.length; len++) frames.push(seed.subarray(0, len));
    }
    for (let i = 0; i < 500; i++)
      frames.push(Uint8Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256)));
    for (const f of frames) {
      for (const ctx of [undefined, { start: 7, names: ['a'], count: 3 }]) {
        assert.deepEqual(fast.decode(f, ctx), slow.decode(f, ctx), `${id} ${Buffer.from(f).toString('hex')}`);
      }
    }
  });
}

test('decode of something that is not bytes fails instead of throwing', () => {
  const c = builtinContract('modbus-rtu');
  for (const bad of [undefined, null, '01 03', [1, 3], {}]) {
    const r = c.decode(bad as unknown as Uint8Array);
    assert.deepEqual(r, { ok: false, error: { offset: 0, reason: 'invalid: the frame is not bytes' } });
  }
  assert.ok(c.decode(Buffer.from('010404000008E67DCE', 'hex')).ok); // Buffer is a Uint8Array
});

test('decode never modifies the caller’s bytes, also when they are Node Buffers', () => {
  for (const id of listBuiltinContracts()) {
    for (const generate of [true, false]) {
      const c = generate
        ? builtinContract(id)
        : loadContract(builtinContractSource(id), { runTests: false, generate });
      for (const seed of seedFrames(id)) {
        const buf = Buffer.from(seed);
        c.decode(buf, { start: 1 });
        assert.deepEqual(buf, Buffer.from(seed), `${id} (generate: ${generate})`);
      }
    }
  }
});
