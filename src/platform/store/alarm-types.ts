// The store's part for alarms: every alarm with its history (active or cleared), and the alarm rules
// operators define. The transitions are pure functions in src/platform/alarms/alarm.ts.
import type { Page } from './page.ts';

/** A reading's value (the same as PointValue in types.ts, repeated so that this file needs nothing from there). */
export type AlarmValue = number | string | boolean;

export type AlarmSeverity = 'critical' | 'major' | 'minor' | 'warning' | 'indeterminate';
export type OriginatorType = 'device' | 'gateway';
export type AlarmAction = 'raised' | 'updated' | 'acknowledged' | 'cleared';

export interface AlarmHistoryEntry {
  at: number;
  action: AlarmAction;
  /** A user name, or `condition` when the platform did it. */
  by: string;
  severity?: AlarmSeverity;
  value?: AlarmValue | null;
}

export interface AlarmKey {
  originatorType: OriginatorType;
  originatorId: string;
  /** The alarm type (a rule's `type`): at most one active alarm per (originator, type). */
  type: string;
}

export interface AlarmRecord extends AlarmKey {
  id: number;
  severity: AlarmSeverity;
  /** The alarm rule that raised it. */
  ruleId: string | null;
  message: string;
  /** The observation that raised it (or last updated it). */
  value: AlarmValue | null;
  active: boolean;
  acknowledged: boolean;
  raisedAt: number;
  updatedAt: number;
  ackAt: number | null;
  ackBy: string | null;
  clearedAt: number | null;
  clearedBy: string | null;
  history: AlarmHistoryEntry[];
}

/** A new alarm, before the store gives it an id. */
export type NewAlarm = Omit<AlarmRecord, 'id'>;

export interface AlarmFilter {
  /** true: active only; false: cleared only; undefined: all. */
  active?: boolean;
  acknowledged?: boolean;
  severity?: AlarmSeverity;
  originatorType?: OriginatorType;
  originatorId?: string;
  type?: string;
  offset?: number;
  limit?: number;
}

/** Active alarms by severity, and how many of them nobody acknowledged. */
export interface AlarmCounts {
  active: Record<AlarmSeverity, number>;
  activeTotal: number;
  unacknowledged: number;
}

export interface AlarmRuleRow {
  id: string;
  definition: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

export interface AlarmStore {
  /** Inserts an active alarm; undefined when (originator, type) already has one (another instance raised it). */
  insertAlarm(alarm: NewAlarm): Promise<AlarmRecord | undefined>;
  /** Writes the alarm's state and history. */
  updateAlarm(alarm: AlarmRecord): Promise<void>;
  getAlarm(id: number): Promise<AlarmRecord | undefined>;
  getActiveAlarm(key: AlarmKey): Promise<AlarmRecord | undefined>;
  /** Newest first. */
  listAlarms(filter: AlarmFilter): Promise<Page<AlarmRecord>>;
  countActiveAlarms(): Promise<AlarmCounts>;

  listAlarmRules(): Promise<AlarmRuleRow[]>;
  getAlarmRule(id: string): Promise<AlarmRuleRow | undefined>;
  /** Inserts or replaces (createdAt of an existing rule is kept). */
  saveAlarmRule(rule: AlarmRuleRow): Promise<void>;
  /** Returns true when the rule existed. */
  deleteAlarmRule(id: string): Promise<boolean>;
}
