// An alarm rule: which condition on which devices (or gateways) raises an alarm of which type and
// severity. Rules are JSON documents, stored as given and checked here once; every error names the
// field ("op", "clear.value").
import type { PointValue } from '../store/types.ts';
import { COMPARE_OPS, ORDER_OPS, type Comparison, type RuleOp } from '../rules/rule.ts';
import { SEVERITIES, type Severity } from './alarm.ts';

export const AlarmCondition = {
  /** A point compares against a value (optionally for some seconds). */
  Threshold: 'threshold',
  /** A point's change per `per` seconds (between consecutive readings, device time) compares. */
  Rate: 'rate',
  /** The device or gateway has been offline for `for` seconds. */
  Offline: 'offline',
  /** At least `count` frames of the device failed to decode within `within` seconds. */
  DecodeErrors: 'decode-errors',
} as const;
export type AlarmCondition = (typeof AlarmCondition)[keyof typeof AlarmCondition];
export const ALARM_CONDITIONS: readonly AlarmCondition[] = Object.values(AlarmCondition);

export interface AlarmRule {
  id: string;
  name: string;
  enabled: boolean;
  /** The alarm type it raises (default: the rule id): one active alarm per (originator, type). */
  type: string;
  severity: Severity;
  condition: AlarmCondition;
  /** `device` (default) or `gateway` (only for `offline`). */
  subject: 'device' | 'gateway';
  /** A device (or gateway) id, or `*` (default) for every one, narrowed by `contract` and `model`. */
  device: string;
  /** Only devices decoded with this contract. */
  contract?: string;
  /** Only devices whose registry model is this. */
  model?: string;
  /** threshold, rate: the point and the comparison. */
  point?: string;
  op?: RuleOp;
  value?: PointValue;
  /** rate: the change is taken per this many seconds (default 60: per minute). */
  per?: number;
  /** Seconds the condition must hold before the alarm is raised (offline: how long offline). */
  for?: number;
  /** threshold, rate: the alarm clears when this holds (default: when the condition no longer holds). */
  clear?: Comparison;
  /** decode-errors: how many failed frames within `within` seconds raise it (it clears after a whole window without one). */
  count?: number;
  within?: number;
  /** Text of the alarm (default: the rule's name). */
  message?: string;
}

export class AlarmRuleError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'AlarmRuleError';
  }
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const KNOWN = new Set([
  'id',
  'name',
  'enabled',
  'type',
  'severity',
  'condition',
  'subject',
  'device',
  'contract',
  'model',
  'point',
  'op',
  'value',
  'per',
  'for',
  'clear',
  'count',
  'within',
  'message',
  'createdAt',
  'updatedAt',
  'builtin',
]);

function fail(field: string, message: string): never {
  throw new AlarmRuleError(field, message);
}

function text(doc: Record<string, unknown>, field: string, required: boolean): string | undefined {
  const v = doc[field];
  if (v === undefined) return required ? fail(field, 'is required') : undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 256) fail(field, 'must be a non-empty string');
  return v;
}

function seconds(doc: Record<string, unknown>, field: string, min: number): number | undefined {
  const v = doc[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > 31_536_000)
    fail(field, `must be a number from ${min} to 31536000 (seconds)`);
  return v;
}

function comparison(doc: unknown, field: string, ops: readonly RuleOp[]): Comparison {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail(field, 'must be an object');
  const { op, value } = doc as Record<string, unknown>;
  if (typeof op !== 'string' || !ops.includes(op as RuleOp))
    fail(`${field === '' ? '' : `${field}.`}op`, `must be one of ${ops.join(' ')}`);
  const at = `${field === '' ? '' : `${field}.`}value`;
  if (ORDER_OPS.includes(op as RuleOp)) {
    if (typeof value !== 'number' || !Number.isFinite(value)) fail(at, `must be a number for '${op}'`);
  } else if (typeof value !== 'number' && typeof value !== 'string' && typeof value !== 'boolean') {
    fail(at, 'must be a number, string or boolean');
  }
  return { op: op as RuleOp, value: value as PointValue };
}

export function parseAlarmRule(input: unknown): Readonly<AlarmRule> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) fail('rule', 'must be an object');
  const doc = input as Record<string, unknown>;
  for (const key of Object.keys(doc)) if (!KNOWN.has(key)) fail(key, 'unknown field');
  const id = text(doc, 'id', true)!;
  if (!ID.test(id))
    fail('id', 'letters, digits and _ . : - only, at most 64, starting with a letter or digit');
  const condition = doc.condition;
  if (typeof condition !== 'string' || !ALARM_CONDITIONS.includes(condition as AlarmCondition))
    fail('condition', `must be one of ${ALARM_CONDITIONS.join(', ')}`);
  const severity = doc.severity ?? 'major';
  if (typeof severity !== 'string' || !SEVERITIES.includes(severity as Severity))
    fail('severity', `must be one of ${SEVERITIES.join(', ')}`);
  if (doc.enabled !== undefined && typeof doc.enabled !== 'boolean') fail('enabled', 'must be true or false');
  const subject = doc.subject ?? 'device';
  if (subject !== 'device' && subject !== 'gateway') fail('subject', "must be 'device' or 'gateway'");
  if (subject === 'gateway' && condition !== AlarmCondition.Offline)
    fail('subject', "'gateway' only with condition 'offline'");
  const rule: AlarmRule = {
    id,
    name: text(doc, 'name', false) ?? id,
    enabled: (doc.enabled as boolean | undefined) ?? true,
    type: text(doc, 'type', false) ?? id,
    severity: severity as Severity,
    condition: condition as AlarmCondition,
    subject,
    device: text(doc, 'device', false) ?? '*',
  };
  const contract = text(doc, 'contract', false);
  const model = text(doc, 'model', false);
  const message = text(doc, 'message', false);
  if (contract !== undefined) rule.contract = contract;
  if (model !== undefined) rule.model = model;
  if (message !== undefined) rule.message = message;
  const forS = seconds(doc, 'for', 0);
  if (forS !== undefined) rule.for = forS;

  const pointConditions: readonly string[] = [AlarmCondition.Threshold, AlarmCondition.Rate];
  const onlyFor = (field: string, which: string) => {
    if (doc[field] !== undefined) fail(field, `only for condition ${which}`);
  };
  if (pointConditions.includes(condition)) {
    rule.point = text(doc, 'point', true)!;
    const cmp = comparison(doc, '', condition === AlarmCondition.Rate ? ORDER_OPS : COMPARE_OPS);
    rule.op = cmp.op;
    rule.value = cmp.value!;
    if (doc.clear !== undefined) rule.clear = comparison(doc.clear, 'clear', COMPARE_OPS);
    if (condition === AlarmCondition.Rate) {
      const per = seconds(doc, 'per', 0.001);
      if (per !== undefined) rule.per = per;
    } else onlyFor('per', 'rate');
    onlyFor('count', 'decode-errors');
    onlyFor('within', 'decode-errors');
  } else {
    for (const f of ['point', 'op', 'value', 'clear', 'per']) onlyFor(f, 'threshold or rate');
    if (condition === AlarmCondition.DecodeErrors) {
      const count = doc.count ?? 1;
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 1_000_000)
        fail('count', 'must be an integer from 1');
      rule.count = count;
      rule.within = seconds(doc, 'within', 1) ?? 600;
      onlyFor('for', 'threshold, rate or offline');
    } else {
      onlyFor('count', 'decode-errors');
      onlyFor('within', 'decode-errors');
    }
  }
  return Object.freeze(rule);
}

/** Whether the rule watches this originator (type, id, and for devices the contract and model known). */
export function ruleMatches(
  rule: Readonly<AlarmRule>,
  subjectType: 'device' | 'gateway',
  id: string,
  device?: { contract?: string | null; model?: string | null },
): boolean {
  if (!rule.enabled || rule.subject !== subjectType) return false;
  if (rule.device !== '*' && rule.device !== id) return false;
  if (rule.contract !== undefined && rule.contract !== device?.contract) return false;
  if (rule.model !== undefined && rule.model !== device?.model) return false;
  return true;
}
