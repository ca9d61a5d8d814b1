// How the platform judges a gateway's `seq` (docs/protocol.md "Sequence numbers"), as pure functions.
// The dedup mark is the highest seq applied per gateway epoch. Without a bound, one message with a huge
// seq (a forgery, or a bug) would raise the mark and every later real message would count as a resend
// and be dropped. So a seq may run at most `window` ahead of the reference: the mark, or the seq of the
// latest birth whose sender is trusted (a birth carries the gateway's current counter, so everything it
// still has queued lies below it — which is how a gateway back from a long outage, whose full queue
// dropped its oldest messages, is accepted although its stream jumped).

/** How far ahead of the reference a seq may be: larger than any honest gap between two messages. */
export const DEFAULT_SEQ_WINDOW = 10_000;

export interface StreamState {
  /** Highest applied seq of the ordered stream (null: none yet — a new epoch starts from 1). */
  applied: number | null;
  /** Highest seq of a trusted birth (null: none). */
  birth: number | null;
}

export const SeqVerdict = {
  /** New: apply it and raise the mark. */
  Apply: 'apply',
  /** At or below the mark: a resend, already applied. */
  Duplicate: 'duplicate',
  /** Beyond the window: refused, counted, never taken as the mark. */
  TooFar: 'too-far',
} as const;
export type SeqVerdict = (typeof SeqVerdict)[keyof typeof SeqVerdict];

/** The reference a seq is measured against. */
export function seqReference(state: StreamState): number {
  return Math.max(state.applied ?? 0, state.birth ?? 0);
}

/** `hole`: this seq failed to store earlier and its resend must be applied although it is below the mark. */
export function judgeSeq(seq: number, state: StreamState, window: number, hole = false): SeqVerdict {
  if (state.applied !== null && seq <= state.applied) return hole ? SeqVerdict.Apply : SeqVerdict.Duplicate;
  return seq - seqReference(state) > window ? SeqVerdict.TooFar : SeqVerdict.Apply;
}

/**
 * May this birth become the anchor? A trusted sender's always (the broker vouches that the gateway
 * itself sent it); an unverified one's (lab mode: anyone may publish on a gateway's topic) only
 * within the window, so a forged birth cannot open the door for a forged jump.
 */
export function acceptsBirthAnchor(
  seq: number,
  state: StreamState,
  window: number,
  trusted: boolean,
): boolean {
  return trusted || seq - seqReference(state) <= window;
}
