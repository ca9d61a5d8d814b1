// An alarm and its transitions, as pure functions over a record: raised by a condition, updated while
// active (severity or value), acknowledged by a user, cleared by the condition ending or by a user.
// The record keeps its own history; the AlarmBook (alarm-book.ts) decides which transition applies.
import type {
  AlarmAction as AlarmActionName,
  AlarmKey,
  AlarmRecord,
  AlarmSeverity,
  NewAlarm,
} from '../store/alarm-types.ts';
import type { PointValue } from '../store/types.ts';

export type { AlarmKey, AlarmRecord, NewAlarm } from '../store/alarm-types.ts';

/** ThingsBoard's five levels, most severe first. */
export const Severity = {
  Critical: 'critical',
  Major: 'major',
  Minor: 'minor',
  Warning: 'warning',
  Indeterminate: 'indeterminate',
} as const satisfies Record<string, AlarmSeverity>;
export type Severity = AlarmSeverity;
export const SEVERITIES: readonly Severity[] = Object.values(Severity);

export const AlarmAction = {
  Raised: 'raised',
  /** Raised again while active: its severity or message changed (never a second alarm). */
  Updated: 'updated',
  Acknowledged: 'acknowledged',
  Cleared: 'cleared',
} as const satisfies Record<string, AlarmActionName>;

/** Who cleared or raised an alarm when no person did. */
export const BY_CONDITION = 'condition';

export interface RaiseInput extends AlarmKey {
  severity: Severity;
  ruleId: string | null;
  message: string;
  value: PointValue | null;
}

export function newAlarm(input: RaiseInput, now: number): NewAlarm {
  return {
    ...input,
    active: true,
    acknowledged: false,
    raisedAt: now,
    updatedAt: now,
    ackAt: null,
    ackBy: null,
    clearedAt: null,
    clearedBy: null,
    history: [
      { at: now, action: AlarmAction.Raised, by: BY_CONDITION, severity: input.severity, value: input.value },
    ],
  };
}

/**
 * The condition holds again while the alarm is active: the same alarm, with the new severity and value.
 * Undefined when nothing changed worth recording (same severity): no write, no event.
 */
export function reRaise(alarm: AlarmRecord, input: RaiseInput, now: number): AlarmRecord | undefined {
  if (!alarm.active) return undefined;
  if (alarm.severity === input.severity && alarm.message === input.message) return undefined;
  return {
    ...alarm,
    severity: input.severity,
    message: input.message,
    value: input.value,
    updatedAt: now,
    history: [
      ...alarm.history,
      {
        at: now,
        action: AlarmAction.Updated,
        by: BY_CONDITION,
        severity: input.severity,
        value: input.value,
      },
    ],
  };
}

/** Undefined when already acknowledged (acknowledging twice changes nothing). */
export function acknowledge(alarm: AlarmRecord, by: string, now: number): AlarmRecord | undefined {
  if (alarm.acknowledged) return undefined;
  return {
    ...alarm,
    acknowledged: true,
    ackAt: now,
    ackBy: by,
    updatedAt: now,
    history: [...alarm.history, { at: now, action: AlarmAction.Acknowledged, by }],
  };
}

/** Undefined when already cleared. */
export function clear(alarm: AlarmRecord, by: string, now: number): AlarmRecord | undefined {
  if (!alarm.active) return undefined;
  return {
    ...alarm,
    active: false,
    clearedAt: now,
    clearedBy: by,
    updatedAt: now,
    history: [...alarm.history, { at: now, action: AlarmAction.Cleared, by }],
  };
}

export function alarmKey(key: AlarmKey): string {
  return `${key.originatorType}\u0000${key.originatorId}\u0000${key.type}`;
}
