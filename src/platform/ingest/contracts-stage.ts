// The contracts stage: turns one data group into stored readings and per-device telemetry messages.
// Decoding is pure here; registration and storage are the caller's (the platform's) job.
import type { Frame } from '../../protocol/envelope.ts';
import type { ContractRegistry } from '../contract-registry.ts';
import type { ReadingInput } from '../store/types.ts';

/** How a frame's contract was chosen. */
export const IdentifiedBy = {
  /** The frame named a contract the platform knows. */
  Declared: 'declared',
  /** The device's registered contract. */
  Registry: 'registry',
  /** Found by the contracts' detection (framing and checksum) over the raw bytes. */
  Detected: 'detected',
  /** Nothing matched: the frame is kept undecoded, with an error. */
  Unknown: 'unknown',
} as const;
export type IdentifiedBy = (typeof IdentifiedBy)[keyof typeof IdentifiedBy];

/** Published on mqiot/dev/{deviceId}/telemetry (docs/architecture.md, "Decoded telemetry"). */
export interface TelemetryMessage {
  v: 1;
  dev: string;
  gw: string;
  c: string | null;
  ts: number;
  seq: number;
  gseq: number;
  ok: boolean;
  points: { name: string; value: number | string | boolean; unit?: string }[];
  fields?: Record<string, unknown>;
  error?: { offset: number; reason: string };
  raw?: string;
}

/**
 * A frame the contracts stage decoded. Its telemetry message is built from it once stored
 * (telemetryMessage()), not beside it: a batch's frames live until their commit, and what lives that long
 * is copied by every young-generation collection on the way.
 */
export interface DecodedFrame {
  reading: ReadingInput;
  /** What the decoder read, for a frame that decoded (reading.error null). */
  fields: Record<string, unknown> | undefined;
  identifiedBy: IdentifiedBy;
}

/** The message published for a decoded frame on mqiot/dev/{deviceId}/telemetry. */
export function telemetryMessage(frame: DecodedFrame): TelemetryMessage {
  const r = frame.reading;
  const ok = !r.error;
  const message: TelemetryMessage = {
    v: 1,
    dev: r.deviceId,
    gw: r.gatewayId,
    c: r.contractId,
    ts: r.ts,
    seq: r.seq,
    gseq: r.groupSeq,
    ok,
    points: r.points,
  };
  // set in place rather than spread from a temporary object: this runs for every frame stored
  if (ok) message.fields = frame.fields;
  else {
    message.error = r.error!;
    message.raw = Buffer.from(r.raw).toString('hex');
  }
  return message;
}

export const UNKNOWN_CONTRACT_REASON = 'unknown-contract: no contract declared or detected for this frame';
/** A frame of a contract the gateway uses and the platform has asked it for (docs/protocol.md, "Catalog"). */
export const AWAITED_CONTRACT_REASON = "unknown-contract: awaiting the gateway's copy of contract";
/** Prefix of the error stored for a frame whose decoding hints were malformed (Frame.fault). */
export const INVALID_FRAME_REASON = 'invalid-frame';

export function decodeDataGroup(
  /** `bytes`: the group as received, kept with its readings (ReadingInput.envelope). */
  group: { gw: string; seq: number; frames: readonly Frame[]; bytes?: Uint8Array },
  epoch: string,
  receivedAt: number,
  contracts: ContractRegistry,
  registeredContract: (deviceId: string) => string | null | undefined,
  /** A contract the gateway declared in its birth and the platform is still fetching (models/catalog-sync.ts). */
  awaitedContract: (contractId: string) => boolean = () => false,
): DecodedFrame[] {
  return group.frames.map((frame, index) => {
    let identifiedBy: IdentifiedBy = IdentifiedBy.Declared;
    let contract = frame.c ? contracts.get(frame.c) : undefined;
    const awaited = !contract && !frame.fault && awaitedContract(frame.c);
    if (frame.fault) {
      // Stored as sent, undecoded: guessing a contract for a frame that got its own hints wrong could
      // attach the wrong one to the device.
      identifiedBy = IdentifiedBy.Unknown;
    } else if (awaited) {
      // The gateway named a contract whose text is on its way: detection could pick a wrong one whose
      // checksum happens to match, and that one would stick to the device.
      identifiedBy = IdentifiedBy.Unknown;
    } else if (!contract) {
      const known = registeredContract(frame.dev);
      contract = known ? contracts.get(known) : undefined;
      identifiedBy = IdentifiedBy.Registry;
    }
    if (!contract && !frame.fault && !awaited) {
      // Contracts get the received bytes themselves, not copies: a decoder only reads its input (the code
      // generated from a contract writes transformed bytes into arrays of its own), so the stored raw
      // frame stays exactly as received.
      contract = contracts.detect(frame.raw);
      identifiedBy = contract ? IdentifiedBy.Detected : IdentifiedBy.Unknown;
    }
    const result = frame.fault
      ? ({
          ok: false,
          error: { offset: 0, reason: `${INVALID_FRAME_REASON}: ${frame.fault.reason}` },
        } as const)
      : contract
        ? contract.decode(frame.raw, frame.ctx)
        : ({
            ok: false,
            error: {
              offset: 0,
              reason: awaited ? `${AWAITED_CONTRACT_REASON} '${frame.c}'` : UNKNOWN_CONTRACT_REASON,
            },
          } as const);
    const contractId = contract?.id ?? (frame.c || null);
    const points = result.ok ? result.points : [];
    const reading: ReadingInput = {
      gatewayId: group.gw,
      epoch,
      groupSeq: group.seq,
      frameIndex: index,
      deviceId: frame.dev,
      seq: frame.seq,
      ts: frame.ts,
      receivedAt,
      contractId,
      raw: frame.raw,
      points,
      error: result.ok ? null : result.error,
      envelope: group.bytes,
      contractDeclared: contractId === frame.c,
    };
    return { reading, fields: result.ok ? result.fields : undefined, identifiedBy };
  });
}
