// The platform core: receives every gateway uplink (through the broker's in-process client), runs the
// contracts stage, keeps the registry and online status, stores readings, and drives commands, queries,
// report acknowledgements and heartbeats down to the gateways. The state machines it uses are pure; this
// class is the edge that carries out their effects (store writes, MQTT publishes, timers).
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  decodeEnvelope,
  encodeEnvelope,
  type DownlinkEnvelope,
  type UplinkEnvelope,
} from '../protocol/envelope.ts';
import { deviceTelemetryTopic, gatewayDownTopic, parseGatewayUpTopic } from '../protocol/gateway-topics.ts';
import { systemClock, type Clock } from './clock.ts';
import {
  CommandManager,
  FINAL_STATES,
  settle,
  type CommandAnswer,
  type CommandEffect,
} from './commands/command-manager.ts';
import { parsePlatformConfig, type PlatformConfig } from './config.ts';
import type { ContractRegistry } from './contract-registry.ts';
import { NotFoundError, PlatformError, PlatformErrorCode } from './errors.ts';
import type { PlatformListener, PlatformNotification } from './events.ts';
import { HeartbeatScheduler } from './online/heartbeat.ts';
import { OnlineTracker, type OnlineChange } from './online/online-tracker.ts';
import {
  CommandKind,
  Lifecycle,
  type CommandRecord,
  type DeviceRecord,
  type GatewayRecord,
  type PlatformStore,
} from './store/types.ts';
import { UplinkProcessor } from './uplink.ts';

/** Where the platform publishes: the broker's local client, or an MQTT.js client for `mqiot cloud`. */
export interface Downlink {
  /** `expirySeconds`: MQTT 5 message expiry, so the broker drops a copy the gateway did not fetch in time. */
  publish(topic: string, payload: Buffer, options: { qos: 0 | 1 | 2; expirySeconds?: number }): void;
}

export interface PlatformDeps {
  store: PlatformStore;
  contracts: ContractRegistry;
  clock?: Clock;
  logger?: Logger;
}

const DAY_MS = 86_400_000;
const RETENTION_CHECK_MS = 3_600_000;
/** How often epochs learnt by other instances (from births they received) are read back. */
const EPOCH_REFRESH_MS = 60_000;

export class Platform {
  readonly config: Readonly<PlatformConfig>;
  readonly store: PlatformStore;
  readonly contracts: ContractRegistry;
  readonly clock: Clock;
  readonly logger: Logger | undefined;
  readonly online: OnlineTracker;
  readonly heartbeat: HeartbeatScheduler;
  readonly commands: CommandManager;
  readonly #uplink: UplinkProcessor;
  readonly #listeners = new Set<PlatformListener>();
  #downlink: Downlink | undefined;
  #ticker: NodeJS.Timeout | undefined;
  #commandTimer: NodeJS.Timeout | undefined;
  #lastRetention = 0;
  #lastEpochRefresh = 0;
  #downSeq = 0;
  #started = false;

  constructor(config: Partial<PlatformConfig>, deps: PlatformDeps) {
    this.config = parsePlatformConfig(config);
    this.store = deps.store;
    this.contracts = deps.contracts;
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger;
    this.online = new OnlineTracker(this.config);
    this.heartbeat = new HeartbeatScheduler(this.config.heartbeatIntervalMs);
    const { commandTimeoutMs, queryTimeoutMs, maxTimeouts } = this.config;
    this.commands = new CommandManager({ commandTimeoutMs, queryTimeoutMs, maxTimeouts });
    this.#uplink = new UplinkProcessor(this);
  }

  /** Loads the registry into the trackers; `timers: false` leaves ticking to the caller (tests). */
  async start(options: { timers?: boolean } = {}): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const now = this.clock.now();
    for (const gw of await this.store.listGateways()) {
      this.online.restoreGateway(gw.id, gw.online, gw.lastSeen);
      if (gw.lifecycle !== Lifecycle.Retired) this.heartbeat.addGateway(gw.id, now);
    }
    await this.#uplink.load();
    if (options.timers !== false) {
      this.#ticker = setInterval(
        () => void this.tick().catch((err) => this.#fail('tick', err)),
        this.config.tickMs,
      );
      this.#ticker.unref?.();
    }
  }

  attach(downlink: Downlink): void {
    this.#downlink = downlink;
  }

  async stop(): Promise<void> {
    if (this.#ticker) clearInterval(this.#ticker);
    if (this.#commandTimer) clearTimeout(this.#commandTimer);
    this.#ticker = this.#commandTimer = undefined;
    await this.whenIdle();
    this.#downlink = undefined;
  }

  subscribe(listener: PlatformListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  notify(notification: PlatformNotification): void {
    for (const listener of this.#listeners) {
      try {
        listener(notification);
      } catch (err) {
        this.logger?.warn({ err }, 'platform listener failed');
      }
    }
  }

  /** One message from `mqiot/gw/{id}/up`. Processed in arrival order; see whenIdle(). */
  handleUplink(topic: string, payload: Buffer): void {
    const gatewayId = parseGatewayUpTopic(topic);
    if (!gatewayId) return;
    let envelope: UplinkEnvelope;
    try {
      envelope = decodeEnvelope(payload) as UplinkEnvelope;
    } catch (err) {
      this.logger?.warn({ err, topic }, 'undecodable uplink envelope dropped');
      return;
    }
    if (envelope.gw !== gatewayId) {
      // A gateway may only speak for itself: the topic (which the ACL protects) is the authority.
      this.logger?.warn({ topic, gw: envelope.gw }, 'uplink envelope names another gateway; dropped');
      return;
    }
    this.#uplink.enqueue(envelope, this.clock.now());
  }

  /** Asset edits that change how the platform treats a device or gateway. */
  deviceUpdated(device: DeviceRecord): void {
    this.#uplink.deviceUpdated(device.id, device.contractId);
    this.online.describeDevice(device.id, device.gatewayId, device.pollMs);
  }

  gatewayUpdated(gateway: GatewayRecord): void {
    // A retired gateway gets no more heartbeats; any other lifecycle keeps them.
    if (gateway.lifecycle === Lifecycle.Retired) this.heartbeat.removeGateway(gateway.id);
    else this.heartbeat.addGateway(gateway.id, this.clock.now());
  }

  /** Resolves when every uplink received so far has been processed. */
  whenIdle(): Promise<void> {
    return this.#uplink.whenIdle();
  }

  publishDown(gatewayId: string, envelope: DownlinkEnvelope, expirySeconds?: number): void {
    if (!this.#downlink) return;
    const qos = envelope.k === 'heartbeat' ? 0 : this.config.downlinkQos;
    const payload = encodeEnvelope({ ...envelope, seq: ++this.#downSeq });
    this.#downlink.publish(gatewayDownTopic(gatewayId), payload, {
      qos,
      ...(expirySeconds ? { expirySeconds } : {}),
    });
  }

  publishTelemetry(deviceId: string, payload: Buffer): void {
    this.#downlink?.publish(deviceTelemetryTopic(deviceId), payload, { qos: this.config.telemetryQos });
  }

  sendHeartbeat(gatewayId: string): void {
    this.publishDown(gatewayId, {
      v: 1,
      k: 'heartbeat',
      gw: gatewayId,
      ts: this.clock.now(),
      interval: this.config.heartbeatIntervalMs,
    });
  }

  /** Applies online changes: registry flag, event with time, notification. */
  async applyOnlineChanges(changes: readonly OnlineChange[]): Promise<void> {
    for (const change of changes) {
      if (change.subjectType === 'gateway')
        await this.store.setGatewayOnline(change.id, change.online, change.at);
      else await this.store.setDeviceOnline(change.id, change.online, change.at);
      await this.recordEvent(change.online ? 'online' : 'offline', change.subjectType, change.id, change.at, {
        reason: change.reason,
        ...change.detail,
      });
    }
  }

  async recordEvent(
    kind: string,
    subjectType: 'gateway' | 'device' | 'command' | 'contract',
    subjectId: string,
    ts: number,
    detail: Record<string, unknown> = {},
  ): Promise<void> {
    const event = await this.store.addEvent({ ts, kind, subjectType, subjectId, detail });
    this.notify({ type: 'event', event });
  }

  /** Periodic work: silence → offline, heartbeats due, retention. */
  async tick(): Promise<void> {
    const now = this.clock.now();
    // Another instance (shared subscription) may have heard from a "silent" gateway or device: the
    // store's last communication time counts too.
    for (const candidate of this.online.silentCandidates(now)) {
      const record =
        candidate.subjectType === 'gateway'
          ? await this.store.getGateway(candidate.id)
          : await this.store.getDevice(candidate.id);
      if (record?.lastSeen) this.online.seen(candidate.subjectType, candidate.id, record.lastSeen);
    }
    await this.applyOnlineChanges(this.online.tick(now));
    if (now - this.#lastEpochRefresh >= EPOCH_REFRESH_MS) {
      this.#lastEpochRefresh = now;
      await this.#uplink.refreshEpochs();
    }
    for (const gatewayId of this.heartbeat.tick(now)) this.sendHeartbeat(gatewayId);
    if (this.config.retentionDays > 0 && now - this.#lastRetention >= RETENTION_CHECK_MS) {
      this.#lastRetention = now;
      const deleted = await this.store.deleteReadingsBefore(now - this.config.retentionDays * DAY_MS);
      if (deleted > 0) this.logger?.info({ deleted }, 'retention: old readings deleted');
    }
    await this.runCommandTimers();
  }

  // ---- commands and queries -------------------------------------------------------------------

  /** A control command to a device (through its gateway). */
  async sendCommand(input: {
    deviceId: string;
    action: string;
    params?: Record<string, unknown>;
  }): Promise<CommandRecord> {
    const device = await this.store.getDevice(input.deviceId);
    if (!device) throw new NotFoundError('device', input.deviceId);
    if (device.lifecycle !== Lifecycle.Active) {
      throw new PlatformError(
        PlatformErrorCode.DeviceNotActive,
        `device '${device.id}' is ${device.lifecycle}`,
      );
    }
    if (!device.gatewayId)
      throw new PlatformError(PlatformErrorCode.GatewayUnknown, `device '${device.id}' has no gateway`);
    const contract = device.contractId ? this.contracts.get(device.contractId) : undefined;
    const known = contract?.messages ?? [];
    if (input.action !== 'poll' && known.length > 0 && !known.includes(input.action)) {
      throw new PlatformError(
        PlatformErrorCode.InvalidInput,
        `action '${input.action}' is not one of ${['poll', ...known].join(', ')} (contract ${contract?.id})`,
      );
    }
    return this.#submit({
      id: `cmd-${randomUUID()}`,
      kind: CommandKind.Command,
      gatewayId: device.gatewayId,
      deviceId: device.id,
      action: input.action,
      params: input.params ?? {},
    });
  }

  /** A status query to a gateway, optionally about some of its devices. */
  async sendQuery(input: { gatewayId: string; devices?: string[] }): Promise<CommandRecord> {
    const gateway = await this.store.getGateway(input.gatewayId);
    if (!gateway) throw new NotFoundError('gateway', input.gatewayId);
    return this.#submit({
      id: `q-${randomUUID()}`,
      kind: CommandKind.Query,
      gatewayId: gateway.id,
      deviceId: input.devices?.length === 1 ? input.devices[0]! : null,
      action: 'status',
      params: input.devices ? { devs: input.devices } : {},
    });
  }

  async #submit(request: Parameters<CommandManager['submit']>[0]): Promise<CommandRecord> {
    const effects = this.commands.submit(request, this.clock.now());
    await this.applyCommandEffects(effects);
    return this.commands.get(request.id) ?? (await this.store.getCommand(request.id))!;
  }

  async applyCommandEffects(effects: readonly CommandEffect[]): Promise<void> {
    for (const effect of effects) {
      const { record } = effect;
      if (effect.type === 'save') {
        await this.store.saveCommand(record);
        this.notify({ type: 'command', record });
        continue;
      }
      const ts = this.clock.now();
      // A copy the gateway has not fetched when this try times out must not run later (after the command
      // was declared failed): it expires with the try (MQTT 5 expiry has whole seconds; at least 1).
      const expiry = Math.max(1, Math.floor(this.commands.timeoutOf(record.kind) / 1000));
      if (record.kind === CommandKind.Query) {
        const devs = record.params.devs as string[] | undefined;
        const query = {
          v: 1,
          k: 'query',
          gw: record.gatewayId,
          ts,
          id: record.id,
          ...(devs ? { devs } : {}),
        } as const;
        this.publishDown(record.gatewayId, query, expiry);
      } else {
        const cmd = {
          v: 1,
          k: 'cmd',
          gw: record.gatewayId,
          ts,
          id: record.id,
          dev: record.deviceId ?? '',
          action: record.action,
          params: record.params,
        } as const;
        this.publishDown(record.gatewayId, cmd, expiry);
      }
    }
    this.#armCommandTimer();
  }

  /** The gateway answered a command or query: settle it here, or in the store if another instance sent it. */
  async answer(answer: CommandAnswer, now: number): Promise<void> {
    const effects = this.commands.onAnswer(answer, now);
    if (effects.length > 0) return this.applyCommandEffects(effects);
    const stored = await this.store.getCommand(answer.id);
    if (stored && !FINAL_STATES.has(stored.state)) {
      await this.applyCommandEffects([{ type: 'save', record: settle(stored, answer, now) }]);
    }
  }

  async runCommandTimers(): Promise<void> {
    const effects = this.commands.tick(this.clock.now());
    const settledElsewhere = new Set<string>();
    for (const effect of effects) {
      if (effect.type !== 'send' || settledElsewhere.has(effect.record.id)) continue;
      const stored = await this.store.getCommand(effect.record.id);
      if (stored && FINAL_STATES.has(stored.state)) {
        settledElsewhere.add(stored.id);
        this.commands.forget(stored.id);
      }
    }
    await this.applyCommandEffects(effects.filter((e) => !settledElsewhere.has(e.record.id)));
  }

  /** One real timer for the earliest command deadline (the state machine itself has no timers). */
  #armCommandTimer(): void {
    if (this.#commandTimer) clearTimeout(this.#commandTimer);
    this.#commandTimer = undefined;
    const next = this.commands.nextDeadline();
    if (next === undefined || !this.#ticker) return;
    const delay = Math.max(0, next - this.clock.now());
    this.#commandTimer = setTimeout(() => {
      this.#commandTimer = undefined;
      void this.runCommandTimers().catch((err) => this.#fail('command timer', err));
    }, delay);
  }

  #fail(what: string, err: unknown): void {
    this.logger?.error({ err }, `platform ${what} failed`);
  }
}
