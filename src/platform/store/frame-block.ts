// The raw frames of one data group as one stored block: a CBOR array of per-frame arrays
// [device, seq, frame index, ts, received at, contract, raw bytes, error]. One row per group instead of
// one indexed row per frame is what lets the store keep every raw frame at the ingest rate.
import { Decoder, Encoder } from 'cbor-x';

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

/** What a block is written from: a frame, or a reading (which carries every field of its frame). */
export type FrameToStore = Omit<BlockFrame, 'error'> & { error?: BlockFrame['error'] };

type Packed = [string, number, number, number, number, string | null, Uint8Array, BlockFrame['error']];

// Plain CBOR (no cbor-x records or typed-array tags): the block stays readable by any CBOR decoder.
const encoder = new Encoder({ useRecords: false, tagUint8Array: false, mapsAsObjects: true });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

export function encodeFrameBlock(frames: readonly FrameToStore[]): Buffer {
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
  const packed = decoder.decode(Buffer.from(body.buffer, body.byteOffset, body.byteLength)) as Packed[];
  return packed.map(([deviceId, seq, frameIndex, ts, receivedAt, contractId, raw, error]) => ({
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
