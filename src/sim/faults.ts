// Faults on demand for every simulator: no answer, late answer, corrupted checksum, disconnection.

export const FaultMode = {
  None: 'none',
  NoAnswer: 'no-answer',
  Late: 'late',
  BadChecksum: 'bad-checksum',
  Disconnect: 'disconnect',
} as const;
export type FaultMode = (typeof FaultMode)[keyof typeof FaultMode];
export const FAULT_MODES: readonly FaultMode[] = Object.values(FaultMode);

export interface FaultSpec {
  mode: FaultMode;
  /** Apply to this many answers, then go back to normal; forever when absent. */
  count?: number;
  /** Delay of a late answer in ms. */
  delayMs?: number;
}

export const DEFAULT_LATE_MS = 3000;

/** Decides, answer by answer, which fault (if any) applies. */
export class FaultInjector {
  private spec: FaultSpec = { mode: 'none' };
  private remaining = Infinity;

  set(spec: FaultSpec): void {
    this.spec = spec;
    this.remaining = spec.count ?? Infinity;
  }

  current(): FaultSpec {
    return this.spec;
  }

  /** The fault for the next answer (consumes one from `count`). */
  next(): { mode: FaultMode; delayMs: number } {
    if (this.spec.mode === 'none' || this.remaining <= 0) return { mode: 'none', delayMs: 0 };
    this.remaining--;
    const { mode, delayMs = DEFAULT_LATE_MS } = this.spec;
    if (this.remaining <= 0) this.spec = { mode: 'none' };
    return { mode, delayMs: mode === 'late' ? delayMs : 0 };
  }
}

/** Flips the last checksum byte(s) so the frame fails its check but keeps its length. */
export function corrupt(frame: Uint8Array, checksumOffsetFromEnd: number): Uint8Array {
  const out = Uint8Array.from(frame);
  const i = out.length - checksumOffsetFromEnd;
  if (i >= 0 && i < out.length) out[i] = out[i]! ^ 0xff;
  return out;
}
