// The stored block of a data group's raw frames: the envelope as received (with what decoding found
// that the envelope does not say), or frame by frame when the readings did not come as one envelope.
// Both must read back as the same frames.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Decoder } from 'cbor-x';
import { encodeEnvelope, encodeEnvelopeJson, type Frame } from '../../src/protocol/envelope.ts';
import {
  decodeFrameBlock,
  encodeFrameBlock,
  type FrameToStore,
} from '../../src/platform/store/frame-block.ts';

const RECEIVED = 1_780_000_000_000;
const frames: Frame[] = [
  { dev: 'm-1', c: 'dlt645-2007', ts: 1_780_000_000_001, seq: 1, raw: Uint8Array.from([0x68, 1, 2]) },
  // a contract the platform does not know: the device's registered one is used instead
  { dev: 'm-2', c: 'gateway-name', ts: 1_780_000_000_002, seq: 2, raw: Uint8Array.from([3, 4]) },
  { dev: 'm-3', c: 'not-known', ts: 1_780_000_000_003, seq: 3, raw: Uint8Array.from([5]) },
  { dev: 'm-4', c: 'modbus-tcp', ts: 1_780_000_000_004, seq: 4, raw: Uint8Array.from([6, 7, 8]) },
];
/** What decoding found per frame: the contract it was stored with and its error. */
const found: Pick<FrameToStore, 'contractId' | 'error' | 'contractDeclared'>[] = [
  { contractId: 'dlt645-2007', error: null, contractDeclared: true },
  { contractId: 'registered-one', error: null, contractDeclared: false },
  { contractId: 'not-known', error: { offset: 0, reason: 'unknown-contract' }, contractDeclared: true },
  { contractId: 'modbus-tcp', error: { offset: 3, reason: 'truncated' }, contractDeclared: true },
];

function readings(envelope: Uint8Array | undefined): FrameToStore[] {
  return frames.map((f, frameIndex) => ({
    deviceId: f.dev,
    seq: f.seq,
    frameIndex,
    ts: f.ts,
    receivedAt: RECEIVED,
    raw: f.raw,
    envelope,
    ...found[frameIndex]!,
  }));
}

/** Comparable form: raw as hex (a Buffer and a Uint8Array of the same bytes are the same frame). */
const plain = (list: ReturnType<typeof decodeFrameBlock>) =>
  list.map((f) => ({ ...f, raw: Buffer.from(f.raw).toString('hex') }));

const layout = (body: Buffer) => (new Decoder({ useRecords: false }).decode(body) as unknown[])[0];

describe('frame blocks', () => {
  const expected = plain(decodeFrameBlock(encodeFrameBlock(readings(undefined))));

  it('frame by frame: every field read back', () => {
    assert.equal(expected.length, 4);
    assert.deepEqual(expected[1], {
      deviceId: 'm-2',
      seq: 2,
      frameIndex: 1,
      ts: 1_780_000_000_002,
      receivedAt: RECEIVED,
      contractId: 'registered-one',
      raw: '0304',
      error: null,
    });
  });

  for (const [name, bytes] of [
    ['CBOR', encodeEnvelope({ v: 1, k: 'data', gw: 'g', seq: 9, ts: RECEIVED, frames })],
    ['JSON', Buffer.from(encodeEnvelopeJson({ v: 1, k: 'data', gw: 'g', seq: 9, ts: RECEIVED, frames }))],
  ] as const) {
    it(`a ${name} envelope is stored as received and reads back as the same frames`, () => {
      const body = encodeFrameBlock(readings(bytes));
      assert.equal(layout(body), 2, 'stored as the received envelope');
      assert.ok(body.includes(Buffer.from(bytes)), 'the bytes as received are in the block');
      assert.deepEqual(plain(decodeFrameBlock(body)), expected);
    });
  }

  it('frames that are not exactly the envelope’s, in order, are stored frame by frame', () => {
    const bytes = encodeEnvelope({ v: 1, k: 'data', gw: 'g', seq: 9, ts: RECEIVED, frames });
    const subset = readings(bytes).slice(1);
    assert.notEqual(layout(encodeFrameBlock(subset)), 2);
    assert.deepEqual(plain(decodeFrameBlock(encodeFrameBlock(subset))), expected.slice(1));
    const otherTime = readings(bytes).map((r, i) => (i === 2 ? { ...r, receivedAt: RECEIVED + 1 } : r));
    assert.notEqual(layout(encodeFrameBlock(otherTime)), 2);
  });
});
