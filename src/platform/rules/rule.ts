// A linkage rule: what to watch (`when`) and what to do (`then`). Rules are JSON documents, stored as
// given and checked here once, with errors that name the field ("when.op", "then[1].topic").
import type { PointValue } from '../store/types.ts';

/** Comparisons against a reading, `changes` (any new value), or a device's presence. */
export const RuleOp = {
  Gt: '>',
  Gte: '>=',
  Lt: '<',
  Lte: '<=',
  Eq: '==',
  Ne: '!=',
  Changes: 'changes',
  Offline: 'offline',
  Online: 'online',
} as const;
export type RuleOp = (typeof RuleOp)[keyof typeof RuleOp];
export const RULE_OPS: readonly RuleOp[] = Object.values(RuleOp);
export const ORDER_OPS: readonly RuleOp[] = [RuleOp.Gt, RuleOp.Gte, RuleOp.Lt, RuleOp.Lte];
export const PRESENCE_OPS: readonly RuleOp[] = [RuleOp.Offline, RuleOp.Online];
/** Ops a `reset` condition may use (a reset is a comparison, never an edge or a presence). */
export const COMPARE_OPS: readonly RuleOp[] = [...ORDER_OPS, RuleOp.Eq, RuleOp.Ne];

export const ActionType = { Command: 'command', Publish: 'publish', Event: 'event' } as const;
export type ActionType = (typeof ActionType)[keyof typeof ActionType];

export interface Comparison {
  op: RuleOp;
  value?: PointValue;
}

export interface RuleWhen extends Comparison {
  /** A device id, or `*` for every device (narrowed by `contract`). */
  device: string;
  /** For `offline`/`online`: whether `device` names a device (default) or a gateway. */
  subject?: 'device' | 'gateway';
  /** With `device: "*"`: only devices whose readings were decoded with this contract. */
  contract?: string;
  /** Point name; required except for `offline`/`online`. */
  point?: string;
  /** Seconds the condition must hold continuously before the rule fires. */
  for?: number;
  /** Hysteresis: after firing, the rule re-arms only when this holds (default: the condition no longer holds). */
  reset?: Comparison;
}

export type RuleAction =
  | { type: 'command'; device: string; action: string; params?: Record<string, unknown> }
  | { type: 'publish'; topic: string; payload: string | Record<string, unknown>; qos?: 0 | 1 | 2 }
  | { type: 'event'; message?: string };

export interface Rule {
  id: string;
  name: string;
  enabled: boolean;
  when: RuleWhen;
  /** Seconds: the rule fires at most once per cooldown (a crossing inside it waits for its end). */
  cooldown?: number;
  then: RuleAction[];
}

export class RuleValidationError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'RuleValidationError';
    this.field = field;
  }
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_SECONDS = 7 * 86_400;
const MAX_ACTIONS = 16;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(field: string, message: string): never {
  throw new RuleValidationError(field, message);
}

function onlyKeys(obj: Obj, field: string, allowed: readonly string[]): void {
  for (const key of Object.keys(obj))
    if (!allowed.includes(key)) fail(field ? `${field}.${key}` : key, 'unknown field');
}

function str(obj: Obj, key: string, field: string, required = true): string | undefined {
  const v = obj[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.length === 0) fail(field, 'must be a non-empty string');
  return v;
}

function seconds(obj: Obj, key: string, field: string): number | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > MAX_SECONDS)
    fail(field, `must be a number of seconds from 0 to ${MAX_SECONDS}`);
  return v;
}

function comparison(obj: Obj, field: string, ops: readonly RuleOp[]): Comparison {
  const op = obj.op as RuleOp;
  if (!ops.includes(op)) fail(`${field}.op`, `must be one of ${ops.join(' ')}`);
  const value = obj.value;
  if (ORDER_OPS.includes(op)) {
    if (typeof value !== 'number' || !Number.isFinite(value))
      fail(`${field}.value`, `must be a number for '${op}'`);
    return { op, value };
  }
  if (op === RuleOp.Eq || op === RuleOp.Ne) {
    if (!['number', 'string', 'boolean'].includes(typeof value))
      fail(`${field}.value`, `must be a number, string or boolean for '${op}'`);
    return { op, value: value as PointValue };
  }
  if (value !== undefined) fail(`${field}.value`, `is not used with '${op}'`);
  return { op };
}

function parseWhen(input: unknown): RuleWhen {
  if (!isObj(input)) fail('when', 'must be an object');
  onlyKeys(input, 'when', ['device', 'subject', 'contract', 'point', 'op', 'value', 'for', 'reset']);
  const device = str(input, 'device', 'when.device')!;
  const cmp = comparison(input, 'when', RULE_OPS);
  const presence = PRESENCE_OPS.includes(cmp.op);
  const when: RuleWhen = { device, ...cmp };
  if (input.subject !== undefined) {
    if (!presence) fail('when.subject', `is only used with 'offline' and 'online'`);
    if (input.subject !== 'device' && input.subject !== 'gateway')
      fail('when.subject', "must be 'device' or 'gateway'");
    when.subject = input.subject;
  }
  const contract = str(input, 'contract', 'when.contract', false);
  if (contract !== undefined) {
    if (device !== '*') fail('when.contract', "is only used with device '*'");
    when.contract = contract;
  }
  const point = str(input, 'point', 'when.point', false);
  if (presence && point !== undefined) fail('when.point', `is not used with '${cmp.op}'`);
  if (!presence && point === undefined) fail('when.point', `is required with '${cmp.op}'`);
  if (point !== undefined) when.point = point;
  const forS = seconds(input, 'for', 'when.for');
  if (forS !== undefined) {
    if (cmp.op === RuleOp.Changes) fail('when.for', "is not used with 'changes' (each change is an event)");
    when.for = forS;
  }
  if (input.reset !== undefined) {
    if (!isObj(input.reset)) fail('when.reset', 'must be an object');
    if (presence || cmp.op === RuleOp.Changes) fail('when.reset', `is not used with '${cmp.op}'`);
    onlyKeys(input.reset, 'when.reset', ['op', 'value']);
    when.reset = comparison(input.reset, 'when.reset', COMPARE_OPS);
  }
  return when;
}

function parseAction(input: unknown, field: string): RuleAction {
  if (!isObj(input)) fail(field, 'must be an object');
  switch (input.type) {
    case ActionType.Command: {
      onlyKeys(input, field, ['type', 'device', 'action', 'params']);
      const params = input.params;
      if (params !== undefined && !isObj(params)) fail(`${field}.params`, 'must be an object');
      return {
        type: 'command',
        device: str(input, 'device', `${field}.device`)!,
        action: str(input, 'action', `${field}.action`)!,
        ...(params ? { params } : {}),
      };
    }
    case ActionType.Publish: {
      onlyKeys(input, field, ['type', 'topic', 'payload', 'qos']);
      const topic = str(input, 'topic', `${field}.topic`)!;
      if (/[+#]/.test(topic) || topic.includes('\0'))
        fail(`${field}.topic`, 'must not contain wildcards (+ #) or NUL');
      // The gateways' and devices' own topics belong to the platform: a command goes through the
      // command service (feedback, resends), never as a hand-made downlink message.
      if (topic.startsWith('mqiot/') || topic.startsWith('$'))
        fail(
          `${field}.topic`,
          "must not be a platform topic (mqiot/...) or a $ topic; use a 'command' action",
        );
      const payload = input.payload ?? '';
      if (typeof payload !== 'string' && !isObj(payload))
        fail(`${field}.payload`, 'must be a string or an object');
      const qos = input.qos ?? 0;
      if (qos !== 0 && qos !== 1 && qos !== 2) fail(`${field}.qos`, 'must be 0, 1 or 2');
      return { type: 'publish', topic, payload, qos };
    }
    case ActionType.Event: {
      onlyKeys(input, field, ['type', 'message']);
      const message = str(input, 'message', `${field}.message`, false);
      return { type: 'event', ...(message !== undefined ? { message } : {}) };
    }
    default:
      return fail(`${field}.type`, "must be 'command', 'publish' or 'event'");
  }
}

/** Validates a rule document; returns a normalised copy (defaults filled in), frozen. */
export function parseRule(input: unknown): Readonly<Rule> {
  if (!isObj(input)) fail('rule', 'must be a JSON object');
  onlyKeys(input, '', ['id', 'name', 'enabled', 'when', 'cooldown', 'then']);
  const id = str(input, 'id', 'id')!;
  if (!ID_PATTERN.test(id))
    fail('id', 'must be 1-64 letters, digits, . _ - (starting with a letter or digit)');
  const name = str(input, 'name', 'name', false) ?? id;
  if (input.enabled !== undefined && typeof input.enabled !== 'boolean') fail('enabled', 'must be a boolean');
  const when = parseWhen(input.when);
  const cooldown = seconds(input, 'cooldown', 'cooldown');
  if (!Array.isArray(input.then) || input.then.length === 0)
    fail('then', 'must be a non-empty list of actions');
  if (input.then.length > MAX_ACTIONS) fail('then', `must have at most ${MAX_ACTIONS} actions`);
  const then = input.then.map((a, i) => parseAction(a, `then[${i}]`));
  const rule: Rule = {
    id,
    name,
    enabled: input.enabled !== false,
    when,
    ...(cooldown ? { cooldown } : {}),
    then,
  };
  return Object.freeze(rule);
}
