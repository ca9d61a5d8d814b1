// The condition of one alarm rule for one originator, as a pure state machine: observations (readings,
// presence changes, decode results) and time in, "raise" or "clear" out. No timers, no I/O; the
// alarm service calls tick() with the clock's time.
//
//   idle ──condition holds──▶ pending ──held `for` s──▶ raised ──clear holds──▶ idle
//    ▲                          │ condition broken                  (default clear: the condition ends)
//    └──────────────────────────┘
//
// Edge-triggered like the linkage rules: while raised, more readings that keep the condition true say
// nothing (the alarm is already there), so a user who clears an alarm whose condition still holds is
// not contradicted by the next reading; the alarm comes back only after the condition ended and
// started again.
import type { PointValue } from '../store/types.ts';
import { evaluate } from '../rules/rule-machine.ts';
import { AlarmCondition, type AlarmRule } from './alarm-rule.ts';

export const ConditionState = { Idle: 'idle', Pending: 'pending', Raised: 'raised' } as const;
export type ConditionState = (typeof ConditionState)[keyof typeof ConditionState];

export type Verdict = { kind: 'raise'; value: PointValue | null; at: number } | { kind: 'clear'; at: number };

const DEFAULT_RATE_PER_S = 60;
export const OFFLINE_VALUE = 'offline';

export class ConditionMachine {
  #state: ConditionState = ConditionState.Idle;
  #pendingSince = 0;
  #pendingValue: PointValue | null = null;
  /** rate: the previous reading (device time). */
  #previous: { value: number; ts: number } | undefined;
  /** decode-errors: times of the failed frames inside the window. */
  #errors: number[] = [];

  constructor(private readonly rule: Readonly<AlarmRule>) {}

  get state(): ConditionState {
    return this.#state;
  }

  /**
   * An alarm of this rule was active when the platform started: the machine starts raised, so the
   * condition ending clears it and the condition holding does not raise it twice.
   */
  restoreRaised(now: number): void {
    this.#state = ConditionState.Raised;
    if (this.rule.condition === AlarmCondition.DecodeErrors) this.#errors = [now];
  }

  /** A reading of the rule's point (threshold, rate); `ts` is the device time of the reading. */
  observeReading(value: PointValue, ts: number, now: number): Verdict | undefined {
    const { condition } = this.rule;
    if (condition === AlarmCondition.Threshold) return this.#level(value, now);
    if (condition !== AlarmCondition.Rate) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
    const previous = this.#previous;
    if (previous && ts <= previous.ts) return undefined; // replayed or out of order: no rate from it
    this.#previous = { value, ts };
    if (!previous) return undefined;
    const perS = this.rule.per ?? DEFAULT_RATE_PER_S;
    const rate = ((value - previous.value) / ((ts - previous.ts) / 1000)) * perS;
    return this.#level(rate, now);
  }

  /** The originator went online or offline at `at` (offline). */
  observePresence(online: boolean, at: number, now: number): Verdict | undefined {
    if (this.rule.condition !== AlarmCondition.Offline) return undefined;
    if (online) return this.#toIdle(now);
    if (this.#state === ConditionState.Idle) {
      this.#state = ConditionState.Pending;
      this.#pendingSince = at;
      this.#pendingValue = OFFLINE_VALUE;
    }
    return this.tick(now);
  }

  /** A frame of the device decoded (`ok`) or failed (decode-errors). */
  observeFrame(ok: boolean, now: number): Verdict | undefined {
    if (this.rule.condition !== AlarmCondition.DecodeErrors || ok) return undefined;
    this.#errors.push(now);
    this.#pruneErrors(now);
    if (this.#state !== ConditionState.Raised && this.#errors.length >= (this.rule.count ?? 1)) {
      this.#state = ConditionState.Raised;
      return { kind: 'raise', value: this.#errors.length, at: now };
    }
    return undefined;
  }

  /** Time passes: a pending condition held long enough raises; a decode-error window without errors clears. */
  tick(now: number): Verdict | undefined {
    if (this.rule.condition === AlarmCondition.DecodeErrors) {
      this.#pruneErrors(now);
      if (this.#state === ConditionState.Raised && this.#errors.length === 0) return this.#toIdle(now);
      return undefined;
    }
    if (this.#state !== ConditionState.Pending) return undefined;
    if (now < this.#pendingSince + (this.rule.for ?? 0) * 1000) return undefined;
    this.#state = ConditionState.Raised;
    return { kind: 'raise', value: this.#pendingValue, at: now };
  }

  /** When tick() may next change something (undefined: nothing waits on time). */
  nextDeadline(): number | undefined {
    if (this.rule.condition === AlarmCondition.DecodeErrors) {
      const newest = this.#errors.at(-1);
      return this.#state === ConditionState.Raised && newest !== undefined
        ? newest + (this.rule.within ?? 0) * 1000
        : undefined;
    }
    return this.#state === ConditionState.Pending
      ? this.#pendingSince + (this.rule.for ?? 0) * 1000
      : undefined;
  }

  #level(value: PointValue, now: number): Verdict | undefined {
    const { op, value: target, clear } = this.rule;
    const holds = evaluate({ op: op!, value: target }, value);
    if (holds === undefined) return undefined; // cannot be compared: neither raises nor clears
    if (this.#state === ConditionState.Raised) {
      const ends = clear ? evaluate(clear, value) === true : !holds;
      return ends ? this.#toIdle(now) : undefined;
    }
    if (!holds) {
      this.#state = ConditionState.Idle;
      return undefined;
    }
    if (this.#state === ConditionState.Idle) {
      this.#state = ConditionState.Pending;
      this.#pendingSince = now;
    }
    this.#pendingValue = value;
    return this.tick(now);
  }

  #toIdle(now: number): Verdict | undefined {
    const wasRaised = this.#state === ConditionState.Raised;
    this.#state = ConditionState.Idle;
    return wasRaised ? { kind: 'clear', at: now } : undefined;
  }

  #pruneErrors(now: number): void {
    const from = now - (this.rule.within ?? 0) * 1000;
    while (this.#errors.length > 0 && this.#errors[0]! <= from) this.#errors.shift();
  }
}
