// The active alarms, one per (originator, type), and the decisions about them: a raise for a key that
// already has an active alarm updates it (or does nothing) instead of adding a second one; a clear
// from a condition touches only an alarm that condition raised. Pure: records in, records out; the
// alarm service stores them and tells the book what was stored.
import {
  acknowledge,
  alarmKey,
  clear,
  newAlarm,
  reRaise,
  type AlarmKey,
  type AlarmRecord,
  type NewAlarm,
  type RaiseInput,
} from './alarm.ts';

export type RaiseDecision = { kind: 'create'; alarm: NewAlarm } | { kind: 'update'; alarm: AlarmRecord };

export class AlarmBook {
  readonly #active = new Map<string, AlarmRecord>();

  /** The active alarms the store holds (at start). */
  load(active: readonly AlarmRecord[]): void {
    this.#active.clear();
    for (const alarm of active) if (alarm.active) this.#active.set(alarmKey(alarm), alarm);
  }

  get size(): number {
    return this.#active.size;
  }

  activeFor(key: AlarmKey): AlarmRecord | undefined {
    return this.#active.get(alarmKey(key));
  }

  active(): AlarmRecord[] {
    return [...this.#active.values()];
  }

  /** undefined: the alarm is already active as it is (no duplicate, nothing to write). */
  raise(input: RaiseInput, now: number): RaiseDecision | undefined {
    const existing = this.#active.get(alarmKey(input));
    if (!existing) return { kind: 'create', alarm: newAlarm(input, now) };
    const updated = reRaise(existing, { ...input, ruleId: existing.ruleId }, now);
    return updated ? { kind: 'update', alarm: updated } : undefined;
  }

  /** The condition of `ruleId` ended: its active alarm of that key clears (one raised by another rule stays). */
  clearByCondition(key: AlarmKey, ruleId: string, by: string, now: number): AlarmRecord | undefined {
    const existing = this.#active.get(alarmKey(key));
    if (!existing || existing.ruleId !== ruleId) return undefined;
    return clear(existing, by, now);
  }

  /** A user acknowledges or clears any alarm (active or not); undefined when nothing changes. */
  acknowledge(alarm: AlarmRecord, by: string, now: number): AlarmRecord | undefined {
    return acknowledge(this.#current(alarm), by, now);
  }

  clear(alarm: AlarmRecord, by: string, now: number): AlarmRecord | undefined {
    return clear(this.#current(alarm), by, now);
  }

  /** What the store now holds for this alarm. */
  stored(alarm: AlarmRecord): void {
    const key = alarmKey(alarm);
    if (alarm.active) this.#active.set(key, alarm);
    else if (this.#active.get(key)?.id === alarm.id) this.#active.delete(key);
  }

  /** The book's copy may be newer than a record read from the store a moment ago. */
  #current(alarm: AlarmRecord): AlarmRecord {
    const mine = this.#active.get(alarmKey(alarm));
    return mine?.id === alarm.id ? mine : alarm;
  }
}
