// Runtime state shared by compiled decoders, encoders and expressions.
import type { Point } from './types.ts';

/** Decoded fields of one structure level; `up` is the enclosing structure. */
export interface Scope {
  o: Record<string, unknown>;
  up: Scope | null;
}

export interface State {
  buf: Uint8Array;
  /** Frame start (after a wake-up prefix) and end: `byte(i)`, `$length`, checksum ranges use them. */
  base: number;
  stop: number;
  /** Read position and the end of the current (sub-)range. */
  pos: number;
  end: number;
  /** Added to error offsets inside a transformed copy, so offsets always point into the input frame. */
  shift: number;
  sc: Scope;
  ctx: Record<string, unknown>;
  index: number;
  item: unknown;
  value: unknown;
  points: Point[];
}

export type Getter = (s: State) => unknown;

/** `byte(i)` reached past the available bytes: decode reports truncation, split asks for more. */
export class NeedBytes {
  readonly total: number;
  constructor(total: number) {
    this.total = total;
  }
}

export function newState(buf: Uint8Array, ctx: Record<string, unknown>): State {
  return {
    buf,
    base: 0,
    stop: buf.length,
    pos: 0,
    end: buf.length,
    shift: 0,
    sc: { o: {}, up: null },
    ctx,
    index: 0,
    item: undefined,
    value: undefined,
    points: [],
  };
}
