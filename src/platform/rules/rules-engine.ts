// The edge of the linkage rules: keeps the rules (store + memory), feeds the platform's decoded readings
// and online/offline changes into one pure RuleMachine per (rule, device), and carries out a firing's
// actions — commands through the platform's command service (feedback, resends, failure after 3
// timeouts), MQTT publishes, events — then records the firing as a `rule-fired` event.
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import { NotFoundError, PlatformError, PlatformErrorCode } from '../errors.ts';
import type { PlatformNotification } from '../events.ts';
import type { TelemetryMessage } from '../ingest/contracts-stage.ts';
import type { CommandRecord, EventRecord, PlatformStore, PointValue, RuleRow } from '../store/types.ts';
import { parseRule, PRESENCE_OPS, RuleValidationError, type Rule, type RuleAction } from './rule.ts';
import {
  PRESENCE_OFFLINE,
  PRESENCE_ONLINE,
  RuleMachine,
  type Firing,
  type MachineState,
} from './rule-machine.ts';
import { renderPayload, renderText, type TemplateContext } from './template.ts';
import { firingCommandId, firingKey } from './firing-key.ts';
import { FiringLedger } from './firing-ledger.ts';

export const RULE_FIRED_EVENT = 'rule-fired';
/** Kind of the event a rule's `{ type: 'event' }` action records on the triggering device or gateway. */
export const RULE_ALERT_EVENT = 'rule-alert';
/**
 * Readings older than this (device time) are not acted on: a gateway replaying its buffer after an
 * outage must not trip relays for a situation that is long over.
 */
export const DEFAULT_MAX_READING_AGE_MS = 60_000;
/** Rules changed by another platform instance (or pulled from the cloud) are picked up this often. */
export const DEFAULT_RULES_RELOAD_MS = 30_000;

export interface RulesEngineDeps {
  store: PlatformStore;
  clock: Clock;
  sendCommand(input: {
    deviceId: string;
    action: string;
    params?: Record<string, unknown>;
    requestedBy?: string | null;
    id?: string;
  }): Promise<CommandRecord>;
  publish(topic: string, payload: Buffer, options: { qos: 0 | 1 | 2 }): void;
  notify(notification: PlatformNotification): void;
  logger?: Logger;
  maxReadingAgeMs?: number;
  reloadMs?: number;
  /** Firings acted on, by key (default: a fresh one, keys kept 10 min). */
  ledger?: FiringLedger;
}

/**
 * A firing another platform acted on and reported (an edge, `POST /api/edge/firings`): recorded here
 * so that this platform does not act again on the same reading, and shown in the rule's history.
 */
export interface ReportedFiring {
  key: string;
  rule: string;
  subject: string;
  point: string;
  value: PointValue;
  /** Device time of the triggering reading. */
  ts: number;
  /** When the reporter acted. */
  at: number;
  actions?: unknown[];
  commandId?: string;
}

export interface StoredRule extends Rule {
  createdAt: number;
  updatedAt: number;
}

/** What one action of a firing did (kept in the firing's event). */
export type ActionOutcome =
  | { type: 'command'; device: string; action: string; commandId?: string; error?: string }
  | { type: 'publish'; topic: string; error?: string }
  | { type: 'event'; eventId?: number; error?: string };

interface Entry {
  rule: Readonly<Rule>;
  updatedAt: number;
  /** One machine per device (or gateway) the rule watches; created on the first observation. */
  machines: Map<string, RuleMachine>;
}

export class RulesEngine {
  readonly #entries = new Map<string, Entry>();
  readonly #maxAgeMs: number;
  readonly #reloadMs: number;
  #lastReload = 0;
  #work: Promise<void> = Promise.resolve();
  #standby: (ruleId: string) => boolean = () => false;
  readonly #ledger: FiringLedger;
  /** Firings not carried out because their key was already claimed (by a reporter or earlier here). */
  skipped = 0;

  constructor(private readonly deps: RulesEngineDeps) {
    this.#ledger = deps.ledger ?? new FiringLedger();
    this.#maxAgeMs = deps.maxReadingAgeMs ?? DEFAULT_MAX_READING_AGE_MS;
    this.#reloadMs = deps.reloadMs ?? DEFAULT_RULES_RELOAD_MS;
  }

  /** Loads (or re-reads) the rules from the store; a rule whose document changed starts over idle. */
  async load(): Promise<void> {
    const rows = await this.deps.store.listRules();
    this.#lastReload = this.deps.clock.now();
    const seen = new Set<string>();
    for (const row of rows) {
      seen.add(row.id);
      const current = this.#entries.get(row.id);
      if (current && current.updatedAt === row.updatedAt) continue;
      try {
        this.#set(parseRule(row.definition), row.updatedAt);
      } catch (err) {
        // A row written by a newer version (or by hand) must not stop the others from running.
        this.deps.logger?.warn({ err, rule: row.id }, 'stored rule is invalid; not run');
        this.#entries.delete(row.id);
      }
    }
    for (const id of [...this.#entries.keys()]) if (!seen.has(id)) this.#entries.delete(id);
  }

  async list(): Promise<StoredRule[]> {
    return (await this.deps.store.listRules()).map(toStored);
  }

  async get(id: string): Promise<StoredRule> {
    const row = await this.deps.store.getRule(id);
    if (!row) throw new NotFoundError('rule', id);
    return toStored(row);
  }

  /** Per device the rule has seen: idle, pending or fired. */
  status(id: string): Record<string, MachineState> {
    const entry = this.#entries.get(id);
    return Object.fromEntries([...(entry?.machines ?? [])].map(([subject, m]) => [subject, m.state]));
  }

  async create(input: unknown): Promise<StoredRule> {
    const rule = validate(input);
    if (await this.deps.store.getRule(rule.id)) {
      throw new PlatformError(PlatformErrorCode.Conflict, `rule '${rule.id}' already exists`);
    }
    return this.#save(rule, undefined);
  }

  async replace(id: string, input: unknown): Promise<StoredRule> {
    const rule = validate(input);
    if (rule.id !== id) {
      throw new PlatformError(
        PlatformErrorCode.InvalidInput,
        `id: '${rule.id}' does not match the URL ('${id}')`,
        {
          details: { field: 'id' },
        },
      );
    }
    const existing = await this.deps.store.getRule(id);
    if (!existing) throw new NotFoundError('rule', id);
    return this.#save(rule, existing.createdAt);
  }

  async setEnabled(id: string, enabled: boolean): Promise<StoredRule> {
    const existing = await this.get(id);
    const { createdAt: _c, updatedAt: _u, ...rule } = existing;
    return this.#save(parseRule({ ...rule, enabled }), existing.createdAt);
  }

  async remove(id: string): Promise<void> {
    if (!(await this.deps.store.deleteRule(id))) throw new NotFoundError('rule', id);
    this.#entries.delete(id);
  }

  /** Firings of a rule, newest first. */
  history(id: string, options: { limit?: number; offset?: number } = {}): Promise<EventRecord[]> {
    return this.deps.store.listEvents({
      subjectType: 'rule',
      subjectId: id,
      kind: RULE_FIRED_EVENT,
      ...options,
    });
  }

  async #save(rule: Readonly<Rule>, createdAt: number | undefined): Promise<StoredRule> {
    // Stored times must differ from what load() saw, or a quick edit would not be picked up.
    const now = Math.max(this.deps.clock.now(), (this.#entries.get(rule.id)?.updatedAt ?? 0) + 1);
    const row: RuleRow = {
      id: rule.id,
      definition: { ...rule },
      createdAt: createdAt ?? now,
      updatedAt: now,
    };
    await this.deps.store.saveRule(row);
    this.#set(rule, now);
    return toStored(row);
  }

  #set(rule: Readonly<Rule>, updatedAt: number): void {
    this.#entries.set(rule.id, { rule, updatedAt, machines: new Map() });
  }

  /** The platform's notifications: decoded readings and online/offline events. */
  onNotification(notification: PlatformNotification): void {
    if (notification.type === 'telemetry') this.observeReading(notification.message);
    else if (notification.type === 'event') {
      const { kind, subjectType, subjectId, ts } = notification.event;
      if (
        (kind === 'online' || kind === 'offline') &&
        (subjectType === 'device' || subjectType === 'gateway')
      )
        this.observePresence(subjectType, subjectId, kind === 'online', ts);
    }
  }

  observeReading(message: TelemetryMessage): void {
    // no clock read without rules: this runs for every frame stored
    if (!message.ok || this.#entries.size === 0) return;
    const now = this.deps.clock.now();
    if (now - message.ts > this.#maxAgeMs) return;
    for (const entry of this.#entries.values()) {
      const { when } = entry.rule;
      if (!entry.rule.enabled || PRESENCE_OPS.includes(when.op)) continue;
      if (
        when.device !== message.dev &&
        !(when.device === '*' && (!when.contract || when.contract === message.c))
      )
        continue;
      const point = message.points.find((p) => p.name === when.point);
      if (!point) continue;
      const firing = this.#machine(entry, message.dev).observe(point.value, now, message.ts);
      if (firing) this.#fire(entry, message.dev, firing);
    }
  }

  observePresence(subjectType: 'device' | 'gateway', id: string, online: boolean, ts?: number): void {
    const now = this.deps.clock.now();
    for (const entry of this.#entries.values()) {
      const { when } = entry.rule;
      if (!entry.rule.enabled || !PRESENCE_OPS.includes(when.op)) continue;
      if ((when.subject ?? 'device') !== subjectType || (when.device !== id && when.device !== '*')) continue;
      const firing = this.#machine(entry, id).observe(
        online ? PRESENCE_ONLINE : PRESENCE_OFFLINE,
        now,
        ts ?? now,
      );
      if (firing) this.#fire(entry, id, firing);
    }
  }

  /** Time passes: `for` windows and cooldowns that ran out fire; rules changed elsewhere are reloaded. */
  async tick(): Promise<void> {
    const now = this.deps.clock.now();
    if (now - this.#lastReload >= this.#reloadMs) await this.load();
    for (const entry of this.#entries.values()) {
      if (!entry.rule.enabled) continue;
      for (const [subject, machine] of entry.machines) {
        const firing = machine.tick(now);
        if (firing) this.#fire(entry, subject, firing);
      }
    }
  }

  /**
   * Rules for which `standby(id)` is true keep their state (they see every reading, so a condition
   * already acted on is known) but carry out nothing: on an edge, the rules copied from the cloud stand
   * by while the cloud, which runs them too, is reachable (src/platform/rules/rules-mirror.ts).
   */
  setStandby(standby: (ruleId: string) => boolean): void {
    this.#standby = standby;
  }

  /**
   * A device's last known values, taken as already acted on (RuleMachine.prime): an edge restarted
   * from its replica does not act again on a condition that held before the restart.
   */
  prime(deviceId: string, points: readonly { name: string; value: PointValue }[]): void {
    for (const entry of this.#entries.values()) {
      const { when } = entry.rule;
      if (PRESENCE_OPS.includes(when.op)) continue;
      if (when.device !== deviceId && when.device !== '*') continue;
      const point = points.find((p) => p.name === when.point);
      if (point && !entry.machines.has(deviceId)) this.#machine(entry, deviceId).prime(point.value);
    }
  }

  /**
   * Firings another platform acted on (an edge reporting upstream): each key is claimed, so this
   * engine does not act on the same reading again, and recorded as a `rule-fired` event with `by`.
   * Returns how many were new here; a key already claimed (this platform acted first, or the report
   * is a resend) is not recorded twice.
   */
  async recordReported(firings: readonly ReportedFiring[], by: string): Promise<number> {
    let recorded = 0;
    for (const f of firings) {
      const now = this.deps.clock.now();
      if (this.#ledger.claim(f.key, by, now)) continue;
      // The state here follows: the readings that caused it may reach this platform too late to be
      // evaluated (older than the age limit), and a later one must not count as a new crossing.
      const entry = this.#entries.get(f.rule);
      if (entry) this.#machine(entry, f.subject).actedElsewhere(f.value, now);
      const event = await this.deps.store.addEvent({
        ts: f.at,
        kind: RULE_FIRED_EVENT,
        subjectType: 'rule',
        subjectId: f.rule,
        detail: {
          name: this.#entries.get(f.rule)?.rule.name,
          subject: f.subject,
          point: f.point,
          value: f.value,
          key: f.key,
          ts: f.ts,
          by,
          ...(f.commandId ? { commandId: f.commandId } : {}),
          actions: f.actions ?? [],
        },
      });
      this.deps.notify({ type: 'event', event });
      recorded++;
    }
    return recorded;
  }

  /** Resolves when every firing so far has carried out its actions and been recorded. */
  whenIdle(): Promise<void> {
    return this.#work;
  }

  #machine(entry: Entry, subject: string): RuleMachine {
    let machine = entry.machines.get(subject);
    if (!machine) {
      const { when, cooldown } = entry.rule;
      machine = new RuleMachine({
        condition: { op: when.op, value: when.value },
        reset: when.reset,
        forMs: (when.for ?? 0) * 1000,
        cooldownMs: (cooldown ?? 0) * 1000,
      });
      entry.machines.set(subject, machine);
    }
    return machine;
  }

  #fire(entry: Entry, subject: string, firing: Firing): void {
    if (this.#standby(entry.rule.id)) {
      this.deps.logger?.debug({ rule: entry.rule.id, subject }, 'rule on standby: firing left to the cloud');
      return;
    }
    const point = entry.rule.when.point ?? entry.rule.when.op;
    const key = firingKey({ rule: entry.rule.id, device: subject, point, ts: firing.ts });
    const earlier = this.#ledger.claim(key, 'local', this.deps.clock.now());
    if (earlier) {
      // The reading was already acted on — by an edge that reported it, or here (a replayed reading).
      this.skipped++;
      this.deps.logger?.info(
        { rule: entry.rule.id, subject, key, by: earlier.by },
        'rule firing already acted on; not again',
      );
      return;
    }
    // Decisions are taken in order, synchronously; the actions run one firing after the other.
    this.#work = this.#work
      .then(() => this.#carryOut(entry.rule, subject, firing, key))
      .catch((err) => this.deps.logger?.error({ err, rule: entry.rule.id }, 'rule firing failed'));
  }

  async #carryOut(rule: Readonly<Rule>, subject: string, firing: Firing, key: string): Promise<void> {
    const ctx: TemplateContext = {
      rule: rule.id,
      device: subject,
      point: rule.when.point ?? rule.when.op,
      value: firing.value,
      ts: firing.at,
    };
    this.deps.logger?.info({ rule: rule.id, subject, value: firing.value }, 'rule fired');
    const actions: ActionOutcome[] = [];
    for (const [i, action] of rule.then.entries())
      actions.push(await this.#act(rule, action, ctx, firingCommandId(key, i)));
    const commandId = actions.find((a) => a.type === 'command' && a.commandId);
    const event = await this.deps.store.addEvent({
      ts: firing.at,
      kind: RULE_FIRED_EVENT,
      subjectType: 'rule',
      subjectId: rule.id,
      detail: {
        name: rule.name,
        subject,
        point: ctx.point,
        value: firing.value,
        key,
        ts: firing.ts,
        ...(commandId?.type === 'command' ? { commandId: commandId.commandId } : {}),
        actions,
      },
    });
    this.deps.notify({ type: 'event', event });
  }

  async #act(
    rule: Readonly<Rule>,
    action: RuleAction,
    ctx: TemplateContext,
    commandId: string,
  ): Promise<ActionOutcome> {
    try {
      if (action.type === 'command') {
        const device = renderText(action.device, ctx);
        const record = await this.deps.sendCommand({
          deviceId: device,
          action: action.action,
          params: action.params,
          requestedBy: `rule:${rule.id}`,
          id: commandId,
        });
        return { type: 'command', device, action: action.action, commandId: record.id };
      }
      if (action.type === 'publish') {
        const topic = renderText(action.topic, ctx);
        this.deps.publish(topic, Buffer.from(renderPayload(action.payload, ctx)), { qos: action.qos ?? 0 });
        return { type: 'publish', topic };
      }
      const event = await this.deps.store.addEvent({
        ts: ctx.ts,
        kind: RULE_ALERT_EVENT,
        subjectType: rule.when.subject ?? 'device',
        subjectId: ctx.device,
        detail: { rule: rule.id, value: ctx.value, message: renderText(action.message ?? rule.name, ctx) },
      });
      this.deps.notify({ type: 'event', event });
      return { type: 'event', eventId: event.id };
    } catch (err) {
      // One failing action (an unknown or retired device) does not stop the others; the firing says why.
      const error = err instanceof Error ? err.message : String(err);
      if (action.type === 'command')
        return { type: 'command', device: action.device, action: action.action, error };
      if (action.type === 'publish') return { type: 'publish', topic: action.topic, error };
      return { type: 'event', error };
    }
  }
}

function validate(input: unknown): Readonly<Rule> {
  try {
    return parseRule(input);
  } catch (err) {
    if (err instanceof RuleValidationError) {
      throw new PlatformError(PlatformErrorCode.InvalidInput, err.message, {
        cause: err,
        details: { field: err.field },
      });
    }
    throw err;
  }
}

function toStored(row: RuleRow): StoredRule {
  return { ...(row.definition as unknown as Rule), createdAt: row.createdAt, updatedAt: row.updatedAt };
}
