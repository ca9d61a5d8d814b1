// The raw frames of one data group as one stored block. One row per group instead of one indexed row per
// frame is what lets the store keep every raw frame at the ingest rate. Two layouts, both plain CBOR:
// - the data group as received: [2, received at, the envelope's bytes, [[frame index, contract, error],
//   ...]], the last list only for frames whose contract differs from the one they declared or that
//   failed to decode. Storing the received bytes costs a copy; building per-frame arrays and encoding
//   them again cost about a tenth of the ingest time.
// - frame by frame (readings that did not come as one envelope, e.g. rows migrated from the old frames
//   table): an array of per-frame arrays [device, seq, frame index, ts, received at, contract, raw, error].
import { Decoder, Encoder } from 'cbor-x';
import { decodeEnvelope, type DataEnvelope } from '../../protocol/envelope.ts';

export interface BlockFrame {
  deviceId: string;
  seq: number;
  frameIndex: number;
  ts: number;
  receivedAt: number;
  contractId: string | null;
  raw: Uint8Array;
  error: { offset: number; reason: string } | null;
}

/**
 * What a block is written from: a frame, or a reading (which carries every field of its frame, and the
 * bytes of the data group it came in).
 */
export type FrameToStore = Omit<BlockFrame, 'error'> & {
  error?: BlockFrame['error'];
  /** The data group's bytes as received (the same object for every frame of the group). */
  envelope?: Uint8Array;
  /** The contract is the one the frame named itself (its `c` in the envelope). */
  contractDeclared?: boolean;
};

type Packed = [string, number, number, number, number, string | null, Uint8Array, BlockFrame['error']];
/** A frame whose stored contract or error the envelope does not tell: [index, contract, error]. */
type Exception = [number, string | null, BlockFrame['error']];
const AS_RECEIVED = 2;

// Plain CBOR (no cbor-x records or typed-array tags): the block stays readable by any CBOR decoder.
const encoder = new Encoder({ useRecords: false, tagUint8Array: false, mapsAsObjects: true });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

export function encodeFrameBlock(frames: readonly FrameToStore[]): Buffer {
  return asReceived(frames) ?? frameByFrame(frames);
}

/**
 * The group's envelope and what decoding it found, when the frames are exactly its frames in order
 * (undefined otherwise). The contract a frame declared (`c`) is what it is stored with unless listed.
 */
function asReceived(frames: readonly FrameToStore[]): Buffer | undefined {
  const first = frames[0];
  const envelope = first?.envelope;
  if (!first || !envelope) return undefined;
  const exceptions: Exception[] = [];
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    if (f.envelope !== envelope || f.frameIndex !== i || f.receivedAt !== first.receivedAt) return undefined;
    if (f.error || !f.contractDeclared) exceptions.push([i, f.contractId, f.error ?? null]);
  }
  return encoder.encode([AS_RECEIVED, first.receivedAt, envelope, exceptions]);
}

function frameByFrame(frames: readonly FrameToStore[]): Buffer {
  const packed: Packed[] = frames.map((f) => [
    f.deviceId,
    f.seq,
    f.frameIndex,
    f.ts,
    f.receivedAt,
    f.contractId,
    f.raw,
    f.error ?? null,
  ]);
  return encoder.encode(packed);
}

export function decodeFrameBlock(body: Uint8Array): BlockFrame[] {
  const block = decoder.decode(Buffer.from(body.buffer, body.byteOffset, body.byteLength)) as
    Packed[] | [typeof AS_RECEIVED, number, Uint8Array, Exception[]];
  if (block[0] === AS_RECEIVED) {
    const [, receivedAt, bytes, exceptions] = block as [number, number, Uint8Array, Exception[]];
    return fromEnvelope(receivedAt, bytes, exceptions);
  }
  return (block as Packed[]).map(([deviceId, seq, frameIndex, ts, receivedAt, contractId, raw, error]) => ({
    deviceId,
    seq,
    frameIndex,
    ts,
    receivedAt,
    contractId,
    raw,
    error,
  }));
}

/** The frames of a stored envelope, read with the decoder that accepted it. */
function fromEnvelope(receivedAt: number, bytes: Uint8Array, exceptions: readonly Exception[]): BlockFrame[] {
  const group = decodeEnvelope(bytes) as DataEnvelope;
  const frames: BlockFrame[] = group.frames.map((f, frameIndex) => ({
    deviceId: f.dev,
    seq: f.seq,
    frameIndex,
    ts: f.ts,
    receivedAt,
    contractId: f.c || null,
    raw: f.raw,
    error: null,
  }));
  for (const [index, contractId, error] of exceptions) {
    const frame = frames[index];
    if (!frame) continue;
    frame.contractId = contractId;
    frame.error = error;
  }
  return frames;
}
