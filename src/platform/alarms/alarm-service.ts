// The edge of the alarms: keeps the alarm rules (store + memory), feeds the platform's notifications
// (readings and decode results after they are stored, online/offline changes) into one pure
// ConditionMachine per (rule, originator), and carries out what the AlarmBook decides — store the
// alarm, record an `alarm` event, publish it on MQTT (mqiot/alarms/{type}/{id}) and notify listeners.
// Every write goes through one queue, so the book and the store never disagree about what is active.
import type { Logger } from 'pino';
import { alarmTopic, isValidTopicId } from '../../protocol/gateway-topics.ts';
import type { Clock } from '../clock.ts';
import { NotFoundError, PlatformError, PlatformErrorCode } from '../errors.ts';
import type { PlatformNotification } from '../events.ts';
import type { TelemetryMessage } from '../ingest/contracts-stage.ts';
import type { AlarmCounts, AlarmFilter, AlarmRuleRow } from '../store/alarm-types.ts';
import type { DeviceRecord, PlatformStore } from '../store/types.ts';
import { BY_CONDITION, type AlarmKey, type AlarmRecord, type RaiseInput } from './alarm.ts';
import { AlarmBook } from './alarm-book.ts';
import { AlarmCondition, AlarmRuleError, parseAlarmRule, ruleMatches, type AlarmRule } from './alarm-rule.ts';
import { ConditionMachine, type Verdict } from './condition.ts';
import type { Page } from '../store/page.ts';

/** Kind of the event recorded on the originator for every alarm transition. */
export const ALARM_EVENT = 'alarm';
/** Rules changed by another instance, and device models and contracts, are re-read this often. */
export const DEFAULT_ALARM_RELOAD_MS = 30_000;
/** The setting that says the built-in rules were created once (an operator may delete them for good). */
const BUILTIN_SEEDED_SETTING = 'alarms.builtinSeeded';

/** Created at first start when built-in alarms are on; edited or deleted like any other rule. */
export const BUILTIN_ALARM_RULES: readonly Record<string, unknown>[] = [
  {
    id: 'gateway-offline',
    name: 'Gateway offline for 5 minutes',
    condition: 'offline',
    subject: 'gateway',
    for: 300,
    severity: 'major',
  },
  {
    id: 'device-offline',
    name: 'Device offline for 5 minutes',
    condition: 'offline',
    for: 300,
    severity: 'minor',
  },
  {
    id: 'decode-errors',
    name: 'Frames failing to decode (5 in 10 minutes)',
    condition: 'decode-errors',
    count: 5,
    within: 600,
    severity: 'warning',
  },
];

export interface AlarmServiceDeps {
  store: PlatformStore;
  clock: Clock;
  /** MQTT publish (the platform's downlink); undefined while detached. */
  publish(topic: string, payload: Buffer, options: { qos: 0 | 1 | 2 }): void;
  notify(notification: PlatformNotification): void;
  logger?: Logger;
  /** Create the built-in rules (BUILTIN_ALARM_RULES) once, at the first start. */
  builtinRules?: boolean;
  reloadMs?: number;
}

export interface StoredAlarmRule extends AlarmRule {
  createdAt: number;
  updatedAt: number;
}

/** What an MQTT subscriber of mqiot/alarms/# receives (docs/protocol.md, "Alarms"). */
export interface AlarmMessage {
  v: 1;
  action: 'raised' | 'updated' | 'acknowledged' | 'cleared';
  alarm: Omit<AlarmRecord, 'history'>;
}

interface Entry {
  rule: Readonly<AlarmRule>;
  updatedAt: number;
  /** `${subjectType}\0${id}` → its machine, created on the first observation. */
  machines: Map<string, ConditionMachine>;
}

interface DeviceInfo {
  contract: string | null;
  model: string | null;
}

export class AlarmService {
  readonly #book = new AlarmBook();
  readonly #entries = new Map<string, Entry>();
  readonly #devices = new Map<string, DeviceInfo>();
  readonly #reloadMs: number;
  #lastReload = 0;
  #work: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: AlarmServiceDeps) {
    this.#reloadMs = deps.reloadMs ?? DEFAULT_ALARM_RELOAD_MS;
  }

  /** At start: rules (seeding the built-ins once), active alarms, device models, who is already offline. */
  async load(): Promise<void> {
    const { store } = this.deps;
    if (this.deps.builtinRules && (await store.getSetting(BUILTIN_SEEDED_SETTING)) === undefined) {
      const now = this.deps.clock.now();
      for (const doc of BUILTIN_ALARM_RULES)
        if (!(await store.getAlarmRule(String(doc.id))))
          await store.saveAlarmRule({ id: String(doc.id), definition: doc, createdAt: now, updatedAt: now });
      await store.setSetting(BUILTIN_SEEDED_SETTING, String(now));
    }
    await this.#reload();
    const active: AlarmRecord[] = [];
    for (let offset = 0; ; offset += 1000) {
      const page = await store.listAlarms({ active: true, offset, limit: 1000 });
      active.push(...page.items);
      if (page.items.length < 1000) break;
    }
    this.#book.load(active);
    for (const entry of this.#entries.values()) this.#restoreRaised(entry);
    // Offline since before the restart: the `for` window counts from when it went offline.
    for (const gw of await store.listGateways())
      if (!gw.online && gw.onlineChangedAt !== null)
        this.observePresence('gateway', gw.id, false, gw.onlineChangedAt);
    for (let offset = 0; ; offset += 1000) {
      const page = await store.listDevices({ online: false, offset, limit: 1000 });
      for (const d of page.items)
        if (d.onlineChangedAt !== null) this.observePresence('device', d.id, false, d.onlineChangedAt);
      if (page.items.length < 1000) break;
    }
  }

  /**
   * The rule's alarms that are active (before a restart, or before the rule was edited): their
   * conditions start raised, so they clear when the condition ends and are not raised twice meanwhile.
   */
  #restoreRaised(entry: Entry): void {
    const now = this.deps.clock.now();
    for (const alarm of this.#book.active())
      if (alarm.ruleId === entry.rule.id)
        this.#machine(entry, alarm.originatorType, alarm.originatorId).restoreRaised(now);
  }

  // ---- the platform's notifications ---------------------------------------------------------------

  onNotification(notification: PlatformNotification): void {
    if (notification.type === 'telemetry') this.observeMessage(notification.message);
    else if (notification.type === 'event') {
      const { kind, subjectType, subjectId, ts } = notification.event;
      if (subjectType !== 'device' && subjectType !== 'gateway') return;
      if (kind === 'online' || kind === 'offline')
        this.observePresence(subjectType, subjectId, kind === 'online', ts);
      else if (subjectType === 'device' && (kind === 'registered' || kind === 'identified')) {
        // its model (from the birth) is in the registry, not in the event
        void this.#enqueue(async () => {
          const device = await this.deps.store.getDevice(subjectId);
          if (device) this.deviceUpdated(device);
        }).catch((err: unknown) => this.deps.logger?.warn({ err }, 'alarm device lookup failed'));
      } else if (kind === 'deleted') this.#forget(subjectType, subjectId);
    }
  }

  /** A device's model or contract changed (asset edit, registration): rules by model follow it. */
  deviceUpdated(device: Pick<DeviceRecord, 'id' | 'contractId' | 'model'>): void {
    this.#devices.set(device.id, { contract: device.contractId, model: device.model });
  }

  /** One decoded (or undecodable) frame, after it was stored. */
  observeMessage(message: TelemetryMessage): void {
    let info = this.#devices.get(message.dev);
    if (!info || (message.c && info.contract !== message.c)) {
      info = { model: info?.model ?? null, contract: message.c ?? info?.contract ?? null };
      this.#devices.set(message.dev, info);
    }
    // read once per frame, and only when there are rules: this runs for every frame stored
    const now = this.#entries.size > 0 ? this.deps.clock.now() : 0;
    for (const entry of this.#entries.values()) {
      const { rule } = entry;
      if (!ruleMatches(rule, 'device', message.dev, info)) continue;
      if (rule.condition === AlarmCondition.DecodeErrors) {
        this.#decide(
          entry,
          'device',
          message.dev,
          this.#machine(entry, 'device', message.dev).observeFrame(message.ok, now),
        );
        continue;
      }
      if (!message.ok || rule.condition === AlarmCondition.Offline) continue;
      const point = message.points.find((p) => p.name === rule.point);
      if (!point) continue;
      const machine = this.#machine(entry, 'device', message.dev);
      this.#decide(entry, 'device', message.dev, machine.observeReading(point.value, message.ts, now));
    }
  }

  observePresence(subjectType: 'device' | 'gateway', id: string, online: boolean, at: number): void {
    const now = this.deps.clock.now();
    const info = subjectType === 'device' ? this.#devices.get(id) : undefined;
    for (const entry of this.#entries.values()) {
      if (entry.rule.condition !== AlarmCondition.Offline) continue;
      if (!ruleMatches(entry.rule, subjectType, id, info)) continue;
      const machine = this.#machine(entry, subjectType, id);
      this.#decide(entry, subjectType, id, machine.observePresence(online, at, now));
    }
  }

  /** Time passes: `for` windows run out, decode-error windows empty; rules changed elsewhere are re-read. */
  async tick(): Promise<void> {
    const now = this.deps.clock.now();
    if (now - this.#lastReload >= this.#reloadMs) await this.#reload();
    for (const entry of this.#entries.values()) {
      if (!entry.rule.enabled) continue;
      for (const [subject, machine] of entry.machines) {
        const verdict = machine.tick(now);
        if (!verdict) continue;
        const [type, id] = subject.split('\u0000') as ['device' | 'gateway', string];
        this.#decide(entry, type, id, verdict);
      }
    }
  }

  /** Resolves when every alarm decision and user action so far is stored and published. */
  whenIdle(): Promise<void> {
    return this.#work.then(() => undefined);
  }

  // ---- alarms: reading, acknowledging, clearing ----------------------------------------------------

  list(filter: AlarmFilter): Promise<Page<AlarmRecord>> {
    return this.deps.store.listAlarms(filter);
  }

  async get(id: number): Promise<AlarmRecord> {
    const alarm = await this.deps.store.getAlarm(id);
    if (!alarm) throw new NotFoundError('alarm', String(id));
    return alarm;
  }

  counts(): Promise<AlarmCounts> {
    return this.deps.store.countActiveAlarms();
  }

  /** A user acknowledges an alarm; acknowledging twice returns it unchanged. */
  acknowledge(id: number, by: string): Promise<AlarmRecord> {
    return this.#enqueue(async () => {
      const alarm = await this.get(id);
      const next = this.#book.acknowledge(alarm, by, this.deps.clock.now());
      if (!next) return alarm;
      await this.#store(next, 'acknowledged', by);
      return next;
    });
  }

  /** A user clears an alarm; it comes back only when its condition ends and holds again. */
  clear(id: number, by: string): Promise<AlarmRecord> {
    return this.#enqueue(async () => {
      const alarm = await this.get(id);
      const next = this.#book.clear(alarm, by, this.deps.clock.now());
      if (!next) return alarm;
      await this.#store(next, 'cleared', by);
      return next;
    });
  }

  // ---- alarm rules ------------------------------------------------------------------------------------

  async listRules(): Promise<StoredAlarmRule[]> {
    return (await this.deps.store.listAlarmRules()).flatMap((row) => {
      try {
        return [toStored(row)];
      } catch {
        return [];
      }
    });
  }

  async getRule(id: string): Promise<StoredAlarmRule> {
    const row = await this.deps.store.getAlarmRule(id);
    if (!row) throw new NotFoundError('alarm rule', id);
    return toStored(row);
  }

  async createRule(input: unknown): Promise<StoredAlarmRule> {
    const rule = validate(input);
    if (await this.deps.store.getAlarmRule(rule.id))
      throw new PlatformError(PlatformErrorCode.Conflict, `alarm rule '${rule.id}' already exists`);
    return this.#saveRule(rule, undefined);
  }

  async replaceRule(id: string, input: unknown): Promise<StoredAlarmRule> {
    const rule = validate(input);
    if (rule.id !== id)
      throw new PlatformError(
        PlatformErrorCode.InvalidInput,
        `id: '${rule.id}' does not match the URL ('${id}')`,
        {
          details: { field: 'id' },
        },
      );
    const existing = await this.deps.store.getAlarmRule(id);
    if (!existing) throw new NotFoundError('alarm rule', id);
    return this.#saveRule(rule, existing.createdAt);
  }

  /** A disabled rule neither raises nor clears; its active alarms stay until it is enabled again or a user clears them. */
  async setRuleEnabled(id: string, enabled: boolean): Promise<StoredAlarmRule> {
    const { createdAt, updatedAt: _u, ...rule } = await this.getRule(id);
    return this.#saveRule(parseAlarmRule({ ...rule, enabled }), createdAt);
  }

  /** Deleting a rule leaves its alarms as they are (a user clears them). */
  async removeRule(id: string): Promise<void> {
    if (!(await this.deps.store.deleteAlarmRule(id))) throw new NotFoundError('alarm rule', id);
    this.#entries.delete(id);
  }

  /** Per originator the rule has seen: idle, pending or raised. */
  ruleStatus(id: string): Record<string, string> {
    const entry = this.#entries.get(id);
    return Object.fromEntries(
      [...(entry?.machines ?? [])].map(([subject, m]) => [subject.split('\u0000')[1]!, m.state]),
    );
  }

  async #saveRule(rule: Readonly<AlarmRule>, createdAt: number | undefined): Promise<StoredAlarmRule> {
    // Stored times must differ from what the last reload saw, or a quick edit would not be picked up.
    const now = Math.max(this.deps.clock.now(), (this.#entries.get(rule.id)?.updatedAt ?? 0) + 1);
    const row: AlarmRuleRow = {
      id: rule.id,
      definition: { ...rule },
      createdAt: createdAt ?? now,
      updatedAt: now,
    };
    await this.deps.store.saveAlarmRule(row);
    this.#setEntry(rule, now);
    return toStored(row);
  }

  async #reload(): Promise<void> {
    const { store, clock, logger } = this.deps;
    this.#lastReload = clock.now();
    const seen = new Set<string>();
    for (const row of await store.listAlarmRules()) {
      seen.add(row.id);
      const current = this.#entries.get(row.id);
      if (current && current.updatedAt === row.updatedAt) continue;
      try {
        this.#setEntry(parseAlarmRule(row.definition), row.updatedAt);
      } catch (err) {
        // A row written by a newer version (or by hand) must not stop the others from running.
        logger?.warn({ err: (err as Error).message, rule: row.id }, 'stored alarm rule is invalid; not run');
        this.#entries.delete(row.id);
      }
    }
    for (const id of [...this.#entries.keys()]) if (!seen.has(id)) this.#entries.delete(id);
    // Models are assets an operator edits; contracts may be set by hand too.
    for (let offset = 0; ; offset += 1000) {
      const page = await store.listDevices({ offset, limit: 1000 });
      for (const d of page.items) this.#devices.set(d.id, { contract: d.contractId, model: d.model });
      if (page.items.length < 1000) break;
    }
  }

  #setEntry(rule: Readonly<AlarmRule>, updatedAt: number): void {
    const entry: Entry = { rule, updatedAt, machines: new Map() };
    this.#entries.set(rule.id, entry);
    this.#restoreRaised(entry);
  }

  #machine(entry: Entry, subjectType: 'device' | 'gateway', id: string): ConditionMachine {
    const key = `${subjectType}\u0000${id}`;
    let machine = entry.machines.get(key);
    if (!machine) {
      machine = new ConditionMachine(entry.rule);
      entry.machines.set(key, machine);
    }
    return machine;
  }

  #forget(subjectType: 'device' | 'gateway', id: string): void {
    const key = `${subjectType}\u0000${id}`;
    for (const entry of this.#entries.values()) entry.machines.delete(key);
    if (subjectType === 'device') this.#devices.delete(id);
  }

  /** A machine's verdict becomes a store write, in order with every other alarm write. */
  #decide(
    entry: Entry,
    originatorType: 'device' | 'gateway',
    originatorId: string,
    verdict: Verdict | undefined,
  ): void {
    if (!verdict) return;
    const { rule } = entry;
    const key: AlarmKey = { originatorType, originatorId, type: rule.type };
    void this.#enqueue(async () => {
      if (verdict.kind === 'clear') {
        const cleared = this.#book.clearByCondition(key, rule.id, BY_CONDITION, verdict.at);
        if (cleared) await this.#store(cleared, 'cleared', BY_CONDITION);
        return;
      }
      const input: RaiseInput = {
        ...key,
        severity: rule.severity,
        ruleId: rule.id,
        message: rule.message ?? rule.name,
        value: verdict.value,
      };
      const decision = this.#book.raise(input, verdict.at);
      if (!decision) return;
      if (decision.kind === 'update') return this.#store(decision.alarm, 'updated', BY_CONDITION);
      const created = await this.deps.store.insertAlarm(decision.alarm);
      if (created) return this.#store(created, 'raised', BY_CONDITION, false);
      // Another instance raised it first: that one is the alarm; this instance tracks it.
      const winner = await this.deps.store.getActiveAlarm(key);
      if (winner) this.#book.stored(winner);
    }).catch((err: unknown) =>
      this.deps.logger?.error({ err, rule: rule.id, originatorId }, 'alarm update failed'),
    );
  }

  async #store(alarm: AlarmRecord, action: AlarmMessage['action'], by: string, write = true): Promise<void> {
    if (write) await this.deps.store.updateAlarm(alarm);
    this.#book.stored(alarm);
    const event = await this.deps.store.addEvent({
      ts: alarm.updatedAt,
      kind: ALARM_EVENT,
      subjectType: alarm.originatorType,
      subjectId: alarm.originatorId,
      detail: {
        action,
        alarmId: alarm.id,
        type: alarm.type,
        severity: alarm.severity,
        by,
        message: alarm.message,
      },
    });
    this.deps.notify({ type: 'event', event });
    this.deps.logger?.info(
      { alarm: alarm.id, type: alarm.type, originator: alarm.originatorId, severity: alarm.severity, by },
      `alarm ${action}`,
    );
    if (!isValidTopicId(alarm.originatorId)) return;
    const { history: _history, ...rest } = alarm;
    const message: AlarmMessage = { v: 1, action, alarm: rest };
    this.deps.publish(
      alarmTopic(alarm.originatorType, alarm.originatorId),
      Buffer.from(JSON.stringify(message)),
      {
        qos: 1,
      },
    );
  }

  #enqueue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#work.then(job, job);
    this.#work = run.catch(() => undefined);
    return run;
  }
}

function validate(input: unknown): Readonly<AlarmRule> {
  try {
    return parseAlarmRule(input);
  } catch (err) {
    if (err instanceof AlarmRuleError)
      throw new PlatformError(PlatformErrorCode.InvalidInput, err.message, {
        cause: err,
        details: { field: err.field },
      });
    throw err;
  }
}

function toStored(row: AlarmRuleRow): StoredAlarmRule {
  return { ...parseAlarmRule(row.definition), createdAt: row.createdAt, updatedAt: row.updatedAt };
}
