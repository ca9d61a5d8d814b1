// The platform core: receives every gateway uplink (through the broker's in-process client), runs the
// contracts stage, keeps the registry and online status, stores readings, and drives commands, queries,
// report acknowledgements and heartbeats down to the gateways. The state machines it uses are pure; this
// class is the edge that carries out their effects (store writes, MQTT publishes, timers).
import type { Logger } from 'pino';
import {
  ACKED_KINDS,
  decodeEnvelope,
  encodeEnvelope,
  type DownlinkEnvelope,
  type UplinkEnvelope,
} from '../protocol/envelope.ts';
import {
  deviceTelemetryTopic,
  gatewayDownTopic,
  isValidTopicId,
  parseGatewayUpTopic,
} from '../protocol/gateway-topics.ts';
import { systemClock, type Clock } from './clock.ts';
import { CommandManager, type CommandAnswer } from './commands/command-manager.ts';
import { CommandService } from './commands/command-service.ts';
import { parsePlatformConfig, type PlatformConfig } from './config.ts';
import type { ContractRegistry } from './contract-registry.ts';
import { CatalogSync } from './models/catalog-sync.ts';
import { DeviceModels } from './models/device-models.ts';
import { ModelRegistry } from './models/model-registry.ts';
import type { PlatformListener, PlatformNotification } from './events.ts';
import { HeartbeatScheduler } from './online/heartbeat.ts';
import { OnlineTracker, type OnlineChange } from './online/online-tracker.ts';
import {
  Lifecycle,
  type DeviceRecord,
  type GatewayRecord,
  type Removed,
  type PlatformStore,
} from './store/types.ts';
import { PlatformMetrics, UplinkRejection } from './metrics/platform-metrics.ts';
import { RulesEngine } from './rules/rules-engine.ts';
import { AlarmService } from './alarms/alarm-service.ts';
import { GatewayCredentials, type SecretHashing } from './gateways/credentials.ts';
import { judgeProvenance, type PublisherInfo } from './gateways/provenance.ts';
import { LogLimiter, errorText } from './log-limiter.ts';
import { UplinkProcessor, UplinkRejected } from './ingest/uplink-processor.ts';

/** Where the platform publishes: the broker's local client, or an MQTT.js client for `mqiot cloud`. */
export interface Downlink {
  /** `expirySeconds`: MQTT 5 message expiry, so the broker drops a copy the gateway did not fetch in time. */
  publish(topic: string, payload: Buffer, options: { qos: 0 | 1 | 2; expirySeconds?: number }): void;
  /**
   * Whether anyone subscribes to `topic` now; absent when it cannot be known (an external broker),
   * then everything is published. Lets ingest skip the per-reading telemetry JSON nobody reads.
   */
  subscribed?(topic: string): boolean;
}

export interface PlatformDeps {
  store: PlatformStore;
  contracts: ContractRegistry;
  /** How gateway secrets are hashed (the wiring room passes the broker's Mosquitto form). */
  secretHashing: SecretHashing;
  clock?: Clock;
  logger?: Logger;
}

const DAY_MS = 86_400_000;
const RETENTION_CHECK_MS = 3_600_000;
const RETENTION_SETTING = 'retentionDays';
/** How often epochs learnt by other instances (from births they received) are read back. */
const EPOCH_REFRESH_MS = 60_000;
/** At most one `uplink-rejected` event per gateway and reason in this time (the count says how many). */
const REJECTION_EVENT_INTERVAL_MS = 60_000;

export class Platform {
  readonly config: Readonly<PlatformConfig>;
  readonly store: PlatformStore;
  readonly contracts: ContractRegistry;
  /** Device models: built-in and uploaded (src/platform/models). */
  readonly models: ModelRegistry;
  /** The model of each device, and its readings named by it. */
  readonly deviceModels: DeviceModels;
  /** What each gateway's birth says it decodes with, compared with the platform's own documents. */
  readonly catalogs: CatalogSync;
  readonly clock: Clock;
  readonly logger: Logger | undefined;
  readonly online: OnlineTracker;
  readonly heartbeat: HeartbeatScheduler;
  readonly commands: CommandManager;
  /** Linkage rules, fed with this platform's readings and online changes (src/platform/rules). */
  readonly rules: RulesEngine;
  /** Alarms raised by alarm rules from the same readings and online changes (src/platform/alarms). */
  readonly alarms: AlarmService;
  /** Prometheus metrics of ingest, commands, online status and refused uplinks (src/platform/metrics). */
  readonly metrics: PlatformMetrics;
  /** Gateway credentials issued by the platform (src/platform/gateways/credentials.ts). */
  readonly credentials: GatewayCredentials;
  readonly #uplink: UplinkProcessor;
  readonly #limiter: LogLimiter;
  /** `${gw}\0${reason}` → when the next event may be recorded, and how many came since the last one. */
  readonly #rejectionEvents = new Map<string, { until: number; count: number }>();
  /** Commands and status queries: send, answer, resend on timeout (src/platform/commands). */
  readonly commandService: CommandService;
  readonly #listeners = new Set<PlatformListener>();
  /** Listeners that also want what other instances processed (live views), not only this one's. */
  readonly #remoteListeners = new Set<PlatformListener>();
  #downlink: Downlink | undefined;
  #ticker: NodeJS.Timeout | undefined;
  #lastRetention = 0;
  #retentionDays: number;
  #lastEpochRefresh = 0;
  #downSeq = 0;
  #started = false;

  constructor(config: Partial<PlatformConfig>, deps: PlatformDeps) {
    this.config = parsePlatformConfig(config);
    this.#retentionDays = this.config.retentionDays;
    this.store = deps.store;
    this.contracts = deps.contracts;
    this.clock = deps.clock ?? systemClock;
    this.logger = deps.logger;
    this.models = new ModelRegistry(this.store, this.contracts);
    this.deviceModels = new DeviceModels({
      store: this.store,
      registry: this.models,
      recordEvent: (kind, deviceId, ts, detail) => this.recordEvent(kind, 'device', deviceId, ts, detail),
    });
    this.catalogs = new CatalogSync({
      store: this.store,
      contracts: this.contracts,
      models: this.models,
      publishDown: (gatewayId, envelope) => this.publishDown(gatewayId, envelope),
      recordEvent: (kind, gatewayId, ts, detail) => this.recordEvent(kind, 'gateway', gatewayId, ts, detail),
      modelAdded: (modelId, now) => this.deviceModels.modelAdded(modelId, now),
    });
    this.#limiter = new LogLimiter(this.logger, { now: () => this.clock.now() });
    this.credentials = new GatewayCredentials(this.store, {
      clock: this.clock,
      hashing: deps.secretHashing,
      logger: this.logger,
    });
    this.online = new OnlineTracker(this.config);
    this.heartbeat = new HeartbeatScheduler(this.config.heartbeatIntervalMs);
    const { commandTimeoutMs, queryTimeoutMs, maxTimeouts } = this.config;
    this.commands = new CommandManager({ commandTimeoutMs, queryTimeoutMs, maxTimeouts });
    this.#uplink = new UplinkProcessor(this);
    this.metrics = new PlatformMetrics({
      ingestQueueDepth: () => this.#uplink.queueDepth,
      commandsPending: () => this.commands.inFlightCount,
      gatewaysOnline: () => this.online.onlineCount('gateway'),
      devicesOnline: () => this.online.onlineCount('device'),
    });
    this.commandService = new CommandService({
      store: this.store,
      contracts: this.contracts,
      clock: this.clock,
      manager: this.commands,
      publishDown: (gatewayId, envelope, expiry) => this.publishDown(gatewayId, envelope, expiry),
      notify: (notification) => this.notify(notification),
      onError: (what, err) => this.#fail(what, err),
    });
    this.rules = new RulesEngine({
      store: this.store,
      clock: this.clock,
      sendCommand: (input) => this.commandService.sendCommand(input),
      publish: (topic, payload, options) => this.#downlink?.publish(topic, payload, options),
      notify: (notification) => this.notify(notification),
      logger: this.logger,
    });
    this.subscribe((notification) => this.rules.onNotification(notification));
    this.alarms = new AlarmService({
      store: this.store,
      clock: this.clock,
      publish: (topic, payload, options) => this.#downlink?.publish(topic, payload, options),
      notify: (notification) => this.notify(notification),
      logger: this.logger,
      builtinRules: this.config.builtinAlarms,
    });
    this.subscribe((notification) => this.alarms.onNotification(notification));
  }

  /** Loads the registry into the trackers; `timers: false` leaves ticking to the caller (tests). */
  async start(options: { timers?: boolean } = {}): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const now = this.clock.now();
    for (const gw of await this.store.listGateways()) {
      this.online.restoreGateway(gw.id, gw.online, gw.lastSeen);
      if (gw.lifecycle !== Lifecycle.Retired && gw.lifecycle !== Lifecycle.Pending)
        this.heartbeat.addGateway(gw.id, now);
    }
    await this.models.load();
    await this.deviceModels.load();
    await this.#uplink.load();
    await this.rules.load();
    await this.alarms.load();
    // A retention set through the API outlives restarts; the configured value is the default.
    const stored = await this.store.getSetting(RETENTION_SETTING);
    if (stored !== undefined) this.#retentionDays = Number(stored);
    if (options.timers !== false) {
      this.#ticker = setInterval(
        () => void this.tick().catch((err) => this.#fail('tick', err)),
        this.config.tickMs,
      );
      this.#ticker.unref?.();
      this.commandService.enableTimers(true);
    }
  }

  attach(downlink: Downlink): void {
    this.#downlink = downlink;
  }

  async stop(): Promise<void> {
    if (this.#ticker) clearInterval(this.#ticker);
    this.#ticker = undefined;
    this.commandService.enableTimers(false);
    await this.whenIdle();
    await this.rules.whenIdle();
    await this.alarms.whenIdle();
    this.#downlink = undefined;
  }

  /**
   * `remote: true`: also what other instances sharing the load processed (`notifyRemote`), for live
   * views. Without it only this instance's own notifications, which is what acting on them needs (rules).
   */
  subscribe(listener: PlatformListener, options: { remote?: boolean } = {}): () => void {
    this.#listeners.add(listener);
    if (options.remote) this.#remoteListeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
      this.#remoteListeners.delete(listener);
    };
  }

  notify(notification: PlatformNotification): void {
    this.#deliver(this.#listeners, notification);
  }

  /** A notification another instance made (relayed through the broker by the wiring room). */
  notifyRemote(notification: PlatformNotification): void {
    this.#deliver(this.#remoteListeners, notification);
  }

  #deliver(listeners: ReadonlySet<PlatformListener>, notification: PlatformNotification): void {
    for (const listener of listeners) {
      try {
        listener(notification);
      } catch (err) {
        this.logger?.warn({ err }, 'platform listener failed');
      }
    }
  }

  /**
   * One message from `mqiot/gw/{id}/up`, processed in arrival order (see whenIdle()). The promise
   * resolves once the uplink is stored and rejects when the store keeps failing: the broker
   * acknowledges the gateway's PUBLISH only then. Undefined for a message that is refused for good
   * (undecodable, another gateway's): it is logged and acknowledged, since a resend cannot help.
   */
  handleUplink(topic: string, payload: Buffer, publisher?: PublisherInfo): Promise<void> | undefined {
    const gatewayId = parseGatewayUpTopic(topic);
    if (!gatewayId) return;
    // Provenance first: only the gateway itself (as the broker reports it) speaks for it.
    const provenance = judgeProvenance(
      gatewayId,
      publisher,
      this.config.requireGatewayIdentity,
      this.config.relayUsers,
    );
    if (!provenance.ok) {
      this.uplinkRejected(gatewayId, `publisher-${provenance.reason}`, {
        clientId: publisher?.clientId,
        username: publisher?.username,
      });
      return Promise.reject(
        new UplinkRejected(
          provenance.reason,
          `uplink on ${topic} refused: the publisher is not gateway '${gatewayId}'`,
        ),
      );
    }
    // Decoded when the processor takes it up (readUplink), not here: a queue of decoded data groups, an
    // object per frame, was most of what every young-generation collection had to copy during a burst.
    return this.#uplink.enqueue(gatewayId, payload, this.clock.now(), provenance.trusted);
  }

  /**
   * The envelope of an uplink from `gatewayId`, or undefined when it is refused for good (counted and
   * logged; acknowledged all the same, since a resend of the same bytes could not help).
   */
  readUplink(gatewayId: string, payload: Buffer): UplinkEnvelope | undefined {
    let envelope: UplinkEnvelope;
    try {
      envelope = decodeEnvelope(payload) as UplinkEnvelope;
    } catch (err) {
      this.uplinkRejected(gatewayId, UplinkRejection.InvalidEnvelope, { error: errorText(err) });
      return undefined;
    }
    if (envelope.gw !== gatewayId) {
      // A gateway may only speak for itself: the topic (which the ACL protects) is the authority.
      this.uplinkRejected(gatewayId, UplinkRejection.ForeignGateway, { gw: envelope.gw });
      return undefined;
    }
    return envelope;
  }

  /**
   * An uplink was refused or dropped: counted by reason, one log line per reason and interval (no
   * stack trace), and an `uplink-rejected` event on a known gateway at most once a minute per reason.
   */
  uplinkRejected(gatewayId: string, reason: string, detail: Record<string, unknown> = {}): void {
    this.metrics.uplinkRejected(reason);
    this.#limiter.warn(reason, { gatewayId, ...detail }, 'uplink rejected');
    if (!this.#uplink.knowsGateway(gatewayId)) return; // no events for names anyone can make up
    const now = this.clock.now();
    const key = `${gatewayId}\u0000${reason}`;
    const window = this.#rejectionEvents.get(key);
    if (window && window.until > now) {
      window.count++;
      return;
    }
    const count = (window?.count ?? 0) + 1;
    this.#rejectionEvents.set(key, { until: now + REJECTION_EVENT_INTERVAL_MS, count: 0 });
    if (this.#rejectionEvents.size > 10_000)
      this.#rejectionEvents.delete(this.#rejectionEvents.keys().next().value!);
    void this.recordEvent('uplink-rejected', 'gateway', gatewayId, now, { reason, count, ...detail }).catch(
      (err: unknown) => this.#fail('rejection event', err),
    );
  }

  get retentionDays(): number {
    return this.#retentionDays;
  }

  /** Days of readings to keep (0 = forever); applied at the next tick and kept across restarts. */
  async setRetentionDays(days: number): Promise<void> {
    await this.store.setSetting(RETENTION_SETTING, String(days));
    this.#retentionDays = days;
    this.#lastRetention = 0;
  }

  /** Asset edits that change how the platform treats a device or gateway. */
  deviceUpdated(device: DeviceRecord): void {
    this.#uplink.deviceUpdated(device.id, device.contractId);
    this.online.describeDevice(device.id, device.gatewayId, device.pollMs);
    this.alarms.deviceUpdated(device);
  }

  /** Deletes a device (and with `dropData` its data) from the store and from what this instance remembers. */
  async removeDevice(id: string, dropData: boolean): Promise<Removed | undefined> {
    const removed = await this.store.deleteDevice(id, dropData);
    if (!removed) return undefined;
    this.#uplink.removed(undefined, removed.devices);
    this.deviceModels.removed(removed.devices);
    this.online.forget('device', id);
    await this.recordEvent('deleted', 'device', id, this.clock.now(), { data: dropData ? 'drop' : 'keep' });
    return removed;
  }

  /** Deletes a gateway and its devices (and with `dropData` their data); it gets no more heartbeats. */
  async removeGateway(id: string, dropData: boolean): Promise<Removed | undefined> {
    const removed = await this.store.deleteGateway(id, dropData);
    if (!removed) return undefined;
    // a deleted gateway must not keep a login that would register it again
    await this.credentials.revoke(id);
    this.#uplink.removed(id, removed.devices);
    this.deviceModels.removed(removed.devices);
    this.heartbeat.removeGateway(id);
    this.online.forget('gateway', id);
    for (const dev of removed.devices) this.online.forget('device', dev);
    await this.recordEvent('deleted', 'gateway', id, this.clock.now(), {
      data: dropData ? 'drop' : 'keep',
      devices: removed.devices,
    });
    return removed;
  }

  gatewayUpdated(gateway: GatewayRecord): void {
    this.#uplink.gatewayUpdated(gateway.id, gateway.lifecycle);
    // A retired gateway gets no more heartbeats, nor a pending one (without them it keeps its data
    // queued until an operator activates it); any other lifecycle keeps them.
    if (gateway.lifecycle === Lifecycle.Retired || gateway.lifecycle === Lifecycle.Pending)
      this.heartbeat.removeGateway(gateway.id);
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

  /** Whether a device's decoded telemetry would reach anyone (a device id that is no topic level is logged). */
  telemetryWanted(deviceId: string): boolean {
    const downlink = this.#downlink;
    if (!downlink) return false;
    if (!isValidTopicId(deviceId)) return true;
    return downlink.subscribed?.(deviceTelemetryTopic(deviceId)) ?? true;
  }

  publishTelemetry(deviceId: string, payload: Buffer): void {
    if (!isValidTopicId(deviceId)) {
      // Stored and shown in the API all the same; only the per-device topic cannot carry it.
      this.logger?.warn({ deviceId }, 'device id is not a valid topic level; telemetry not published');
      return;
    }
    this.#downlink?.publish(deviceTelemetryTopic(deviceId), payload, { qos: this.config.telemetryQos });
  }

  sendHeartbeat(gatewayId: string): void {
    this.publishDown(gatewayId, {
      v: 1,
      k: 'heartbeat',
      gw: gatewayId,
      ts: this.clock.now(),
      interval: this.config.heartbeatIntervalMs,
      // data groups that ask for it are acknowledged once stored (docs/protocol.md "Data acknowledgements")
      acks: [...ACKED_KINDS],
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
    subjectType: 'gateway' | 'device' | 'command' | 'contract' | 'model',
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
    if (this.#retentionDays > 0 && now - this.#lastRetention >= RETENTION_CHECK_MS) {
      this.#lastRetention = now;
      const deleted = await this.store.deleteReadingsBefore(now - this.#retentionDays * DAY_MS);
      if (deleted > 0) this.logger?.info({ deleted }, 'retention: old readings deleted');
    }
    await this.runCommandTimers();
    await this.rules.tick();
    await this.alarms.tick();
  }

  // ---- command answers and timers (carried out by CommandService) ------------------------------

  /** The gateway answered a command or query. */
  answer(answer: CommandAnswer, now: number): Promise<void> {
    return this.commandService.answer(answer, now);
  }

  runCommandTimers(): Promise<void> {
    return this.commandService.runTimers();
  }

  #fail(what: string, err: unknown): void {
    this.logger?.error({ err }, `platform ${what} failed`);
  }
}
