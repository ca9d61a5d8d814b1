// The per-contract decode entry around the generated decode function: its source (fixed text, the
// context keys as K references), the constants it reads (W) and the factory's type.
import { DecodeFailure, DecodeReason } from './errors.ts';
import { NeedBytes, type Scope, type State } from './runtime.ts';
import type { DecodeResult } from './types.ts';

/** What the entry needs from its contract: state and top scope, context defaults; see `entry`. */
export type EntryFactory = (
  state: State,
  top: Scope,
  defaults: Record<string, unknown> | undefined,
  empty: Record<string, unknown>,
) => (frame: Uint8Array, context?: Record<string, unknown>) => DecodeResult;

/** Error classes and fixed reasons of the entry (the same texts `CompiledContract` builds). */
export const W = {
  DecodeFailure,
  NeedBytes,
  notBytes: `${DecodeReason.invalid}: the frame is not bytes`,
  undescribed: ' bytes not described by the contract',
  truncated: `${DecodeReason.truncated}: byte(`,
  pastEnd: ') is past the end of the frame',
  invalid: `${DecodeReason.invalid}: `,
  /**
   * s.points until the frame makes its first point: a presized points rule then allocates the one
   * array of its final length (no empty array made per frame only to be replaced); every other writer
   * swaps in [] first. Frozen, so a writer that missed the swap fails loudly instead of sharing state.
   */
  noPoints: Object.freeze([]) as readonly never[],
};

/**
 * Source of the per-contract decode entry (the same steps and results as the closure plan's
 * `CompiledContract.decode`). Only fixed text; `ctxKeys` are K references.
 */
export function entry(trailing: boolean, ctxKeys: readonly string[]): string {
  const ctx =
    ctxKeys.length === 0
      ? 'context === undefined ? empty : context'
      : `context === undefined ? defaults : (${ctxKeys.map((i) => `context[${i}] === undefined`).join(' || ')}) ? { ...defaults, ...context } : context`;
  return `return function entryFactory(s, top, defaults, empty) {
  return function decodeFrame(frame, context) {
    if (!(frame instanceof Uint8Array)) return { ok: false, error: { offset: 0, reason: W.notBytes } };
    s.buf = frame; s.base = 0; s.stop = frame.length; s.pos = 0; s.end = frame.length; s.shift = 0;
    s.sc = top; s.ctx = ${ctx}; s.index = 0; s.item = undefined; s.value = undefined; s.points = W.noPoints;
    try {
      const done = decode(s);
      ${trailing ? 'return done;' : 'return done !== undefined ? done : { ok: false, error: { offset: s.pos, reason: `length: ${s.end - s.pos}` + W.undescribed } };'}
    } catch (e) {
      if (e instanceof W.DecodeFailure) return { ok: false, error: { offset: e.offset, reason: e.reason } };
      if (e instanceof W.NeedBytes) return { ok: false, error: { offset: s.stop, reason: W.truncated + (e.total - 1) + W.pastEnd } };
      return { ok: false, error: { offset: s.pos, reason: W.invalid + (e?.message ?? String(e)) } };
    }
  };
};`;
}
