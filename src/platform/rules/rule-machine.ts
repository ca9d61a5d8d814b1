// The state of one rule for one device, as a pure state machine: observations (readings or presence
// changes) and time in, "fire now" out. No timers and no I/O; the engine asks nextDeadline() and calls
// tick() then.
//
//   idle ──condition holds──▶ pending ──held for `for` s and cooldown over──▶ fired
//    ▲                          │ condition broken                            │ reset holds
//    └──────────────────────────┴─────────────────────────────────────────────┘
//
// Edge-triggered: in `fired` the rule does not fire again, however many readings keep the condition
// true, until the reset condition (default: the condition no longer holds) re-arms it. `changes` is
// an edge by itself: every new value fires (outside the cooldown).
import type { PointValue } from '../store/types.ts';
import { ORDER_OPS, RuleOp, type Comparison } from './rule.ts';

export const MachineState = { Idle: 'idle', Pending: 'pending', Fired: 'fired' } as const;
export type MachineState = (typeof MachineState)[keyof typeof MachineState];

export interface MachineSpec {
  condition: Comparison;
  reset?: Comparison;
  forMs: number;
  cooldownMs: number;
}

export interface Firing {
  /** The observation that made the condition true (for `for`, the latest one while it held). */
  value: PointValue;
  at: number;
  /**
   * Device time of the reading that caused the firing (the one that opened the `for` window, or the
   * changed value): with the rule and the device, it makes the firing's idempotency key (firing-key.ts).
   */
  ts: number;
}

/** Observed presence: `offline`/`online` conditions compare against this. */
export const PRESENCE_ONLINE = 'online';
export const PRESENCE_OFFLINE = 'offline';

/**
 * true/false, or undefined when the observation cannot be compared (a string for `>`, NaN): such a
 * reading is ignored — it neither fires nor breaks a `for` window.
 */
export function evaluate(cmp: Comparison, value: PointValue): boolean | undefined {
  if (cmp.op === RuleOp.Offline || cmp.op === RuleOp.Online) {
    if (value !== PRESENCE_ONLINE && value !== PRESENCE_OFFLINE) return undefined;
    return value === cmp.op;
  }
  if (ORDER_OPS.includes(cmp.op)) {
    if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
    const target = cmp.value as number;
    if (cmp.op === RuleOp.Gt) return value > target;
    if (cmp.op === RuleOp.Gte) return value >= target;
    if (cmp.op === RuleOp.Lt) return value < target;
    return value <= target;
  }
  if (cmp.op === RuleOp.Eq || cmp.op === RuleOp.Ne) {
    if (typeof value !== typeof cmp.value) return undefined;
    if (typeof value === 'number' && !Number.isFinite(value)) return undefined;
    return cmp.op === RuleOp.Eq ? value === cmp.value : value !== cmp.value;
  }
  return undefined;
}

export class RuleMachine {
  #state: MachineState = MachineState.Idle;
  #pendingSince = 0;
  #pendingTs = 0;
  #pendingValue: PointValue | undefined;
  #lastFiredAt: number | undefined;
  #lastValue: PointValue | undefined;

  constructor(private readonly spec: Readonly<MachineSpec>) {}

  get state(): MachineState {
    return this.#state;
  }

  /** One reading (or presence change) at time `now`; `ts` is its device time (default `now`). */
  observe(value: PointValue, now: number, ts = now): Firing | undefined {
    if (this.spec.condition.op === RuleOp.Changes) return this.#change(value, now, ts);
    const holds = evaluate(this.spec.condition, value);
    if (holds === undefined) return undefined;
    if (this.#state === MachineState.Fired) {
      // Hysteresis: with a reset condition, only it re-arms; otherwise the condition ending does. The
      // reading that re-arms is not evaluated again, so an overlapping reset cannot fire in a loop.
      const rearm = this.spec.reset ? evaluate(this.spec.reset, value) === true : !holds;
      if (rearm) this.#state = MachineState.Idle;
      return undefined;
    }
    if (!holds) {
      this.#state = MachineState.Idle;
      return undefined;
    }
    if (this.#state === MachineState.Idle) {
      this.#state = MachineState.Pending;
      this.#pendingSince = now;
      this.#pendingTs = ts;
    }
    this.#pendingValue = value;
    return this.tick(now);
  }

  /** Time passes: a pending condition that has held long enough (and is out of cooldown) fires. */
  tick(now: number): Firing | undefined {
    if (this.#state !== MachineState.Pending) return undefined;
    const due = this.nextDeadline();
    if (due === undefined || now < due) return undefined;
    this.#state = MachineState.Fired;
    this.#lastFiredAt = now;
    return { value: this.#pendingValue!, at: now, ts: this.#pendingTs };
  }

  /**
   * Someone else acted on this condition (an edge reported the firing): the machine is `fired` as if it
   * had fired itself at `now` (cooldown included), so the readings that follow — the queued ones the
   * edge acted on, even those too old to be evaluated here — do not fire it again until it re-arms.
   */
  actedElsewhere(value: PointValue, now: number): void {
    this.#lastFiredAt = now;
    if (this.spec.condition.op === RuleOp.Changes) this.#lastValue = value;
    else this.#state = MachineState.Fired;
  }

  /**
   * The last known value, taken as already acted on: a condition that holds puts the machine in
   * `fired` (so the next reading that keeps it true does not fire again), otherwise `idle`; for
   * `changes` it becomes the baseline. Used when a restarted edge starts from its replica.
   */
  prime(value: PointValue): void {
    if (this.spec.condition.op === RuleOp.Changes) {
      this.#lastValue = value;
      return;
    }
    const holds = evaluate(this.spec.condition, value);
    if (holds !== undefined) this.#state = holds ? MachineState.Fired : MachineState.Idle;
  }

  /** When tick() may fire next (undefined: nothing pending). */
  nextDeadline(): number | undefined {
    if (this.#state !== MachineState.Pending) return undefined;
    const held = this.#pendingSince + this.spec.forMs;
    const cooled = this.#lastFiredAt === undefined ? held : this.#lastFiredAt + this.spec.cooldownMs;
    return Math.max(held, cooled);
  }

  #change(value: PointValue, now: number, ts: number): Firing | undefined {
    const previous = this.#lastValue;
    this.#lastValue = value;
    // The first value seen is the baseline, not a change.
    if (previous === undefined || previous === value) return undefined;
    if (this.#lastFiredAt !== undefined && now < this.#lastFiredAt + this.spec.cooldownMs) return undefined;
    this.#lastFiredAt = now;
    return { value, at: now, ts };
  }
}
