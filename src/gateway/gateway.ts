// The gateway: wires devices, the state machines (poll schedule, batching, online status, reports,
// command cache) and the disk queue to one MQTT session. All protocol decisions live in the machines;
// this file turns their answers into sockets, timers and publishes.
import type { Logger } from 'pino';
import type { Contract } from '../contracts/index.ts';
import {
  encodeEnvelope,
  type CatalogEnvelope,
  type Envelope,
  type Frame,
  type HeartbeatEnvelope,
} from '../protocol/envelope.ts';
import { gatewayDownTopic, gatewayUpTopic } from '../protocol/gateway-topics.ts';
import { Batcher } from './batcher.ts';
import { systemClock, type TimerClock } from './clock.ts';
import { CommandCache } from './command-cache.ts';
import { CommandRunner } from './command-runner.ts';
import type { GatewayConfig } from './config.ts';
import { buildCatalog, type GatewayCatalog } from './catalog.ts';
import { resolveContracts } from './contracts.ts';
import { DeviceLinks, type OpenSerial } from './device-links.ts';
import { Device } from './device.ts';
import { dispatchDownlink } from './downlink.ts';
import { BrokerLink } from './broker-link.ts';
import { birthEnvelope, cmdResultEnvelope, head, statusEnvelope, willEnvelope } from './envelopes.ts';
import { OnlineTracker } from './online.ts';
import type { Outbox } from './outbox.ts';
import { Polling } from './polling.ts';
import { ReportTracker } from './reports.ts';
import { buildReport, buildStatus, type GatewayStats } from './status.ts';
import { UplinkPump } from './uplink-pump.ts';
import { WakeTimer } from './wake-timer.ts';

export { SOFTWARE } from './envelopes.ts';
/** How long a graceful stop waits for the disk queue to drain. */
export const DEFAULT_DRAIN_MS = 2000;

export interface GatewayDeps {
  clock?: TimerClock;
  logger?: Logger;
  /** Resolves a device's contract (built-in id or file); defaults to built-ins and YAML/JSON files. */
  contracts?: (ref: string) => Contract;
  /** Opens a serial line; the `serialport` package by default. */
  openSerial?: OpenSerial;
  /** Random numbers in [0, 1) for the jitter of resend backoffs; Math.random by default. */
  random?: () => number;
}

export class Gateway {
  readonly stats: GatewayStats = {
    startedAt: 0,
    framesQueued: 0,
    groupsQueued: 0,
    published: 0,
    refused: 0,
    groupsAcked: 0,
    groupsResent: 0,
    commandsExecuted: 0,
    commandsCached: 0,
    queries: 0,
    reportsQueued: 0,
    reportsResent: 0,
    reportsAcked: 0,
    heartbeats: 0,
    badDownlink: 0,
  };

  private readonly clock: TimerClock;
  private readonly log: Logger | undefined;
  private readonly devices = new Map<string, Device>();
  private readonly links: DeviceLinks;
  private readonly online: OnlineTracker;
  private readonly batcher: Batcher;
  private readonly commands: CommandRunner;
  private readonly polling: Polling;
  private readonly timer: WakeTimer;
  private uplink!: UplinkPump;
  private reports!: ReportTracker;
  private session!: BrokerLink;
  private birthSeq = 0;
  /** The contracts and models the devices use (the birth names them; a catalog-request gets their text). */
  private catalog: GatewayCatalog = { items: [], sources: new Map(), modelOf: new Map() };
  private birthSent = false;
  /** The "waiting for a platform heartbeat" hint was logged (once per process). */
  private waitHintLogged = false;
  private stopping = false;
  private depthAtStop = 0;
  private stopped = false;

  constructor(
    readonly config: GatewayConfig,
    private readonly deps: GatewayDeps = {},
  ) {
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger?.child({ component: 'gateway', gw: config.id });
    this.online = new OnlineTracker(config.heartbeat.validIntervalMs);
    this.batcher = new Batcher(config.batching);
    this.links = new DeviceLinks(deps.openSerial);
    this.timer = new WakeTimer(this.clock, () => this.wake());
    this.polling = new Polling({
      clock: this.clock,
      log: this.log,
      devices: this.devices,
      onFrame: (frame) => this.addFrame(frame),
      onPollDone: () => this.wake(),
      stopping: () => this.stopping,
    });
    this.commands = new CommandRunner({
      clock: this.clock,
      cache: new CommandCache({ size: config.commands.cacheSize, ttlMs: config.commands.cacheTtlMs }),
      devices: this.devices,
      stats: this.stats,
      pollNow: (device) => {
        this.polling.pollNow(device);
        this.wake();
      },
      sendResult: (id, dev, outcome, cached) =>
        this.enqueue('cmd-result', (seq) => cmdResultEnvelope(this.head(seq), id, dev, outcome, cached)),
      stopped: () => this.stopped,
    });
  }

  /** Push listeners' ports by device id (useful with port 0). */
  get listenerPorts(): ReadonlyMap<string, number> {
    return this.links.listenerPorts;
  }

  get isOnline(): boolean {
    return this.online.online;
  }
  get queueDepth(): number {
    return this.outboxDepth;
  }
  private get outboxDepth(): number {
    return this.outbox?.isOpen ? this.outbox.depth : this.depthAtStop;
  }
  private get outbox(): Outbox {
    return this.uplink?.outbox;
  }
  get epoch(): string {
    return this.outbox.epoch;
  }

  async start(): Promise<void> {
    const now = this.clock.now();
    this.stats.startedAt = now;
    this.reports = new ReportTracker(this.config.reports, now);
    this.uplink = new UplinkPump(this.config.queue, this.config.mqtt.qos, {
      clock: this.clock,
      log: this.log,
      stats: this.stats,
      link: {
        usable: () => this.linkUsable,
        publish: (payload, qos, done) => this.session.publish(payload, qos, done),
      },
      reports: this.reports,
      wake: () => this.wake(),
      random: this.deps.random,
    });
    try {
      const contracts = resolveContracts(this.config, this.deps.contracts);
      this.catalog = buildCatalog(this.config, contracts);
      for (const dc of this.config.devices) {
        const contract = contracts.get(dc.id)!;
        const link = await this.links.linkFor(dc, contract, (raw) => this.polling.pushed(dc.id, raw));
        this.devices.set(dc.id, new Device(dc, contract, link, () => this.clock.now()));
      }
    } catch (err) {
      await this.links.close();
      this.uplink.close();
      throw err;
    }
    this.polling.schedule(now);
    this.session = new BrokerLink(
      this.config.mqtt,
      gatewayDownTopic(this.config.id),
      gatewayUpTopic(this.config.id),
      {
        onConnect: (sessionPresent) => this.onConnect(sessionPresent),
        onClose: () => this.onClose(),
        onMessage: (_topic, payload) => this.onDownlink(payload),
        onError: (err) => this.log?.warn({ err: err.message }, 'mqtt error'),
      },
    );
    this.birthSeq = this.outbox.reserveSeq();
    try {
      this.session.start(this.willPayload('connection lost'));
    } catch (err) {
      await this.links.close();
      this.uplink.close();
      throw err;
    }
    this.log?.info(
      {
        devices: this.devices.size,
        epoch: this.outbox.epoch,
        nextSeq: this.outbox.nextSeq,
        queued: this.outbox.depth,
      },
      'gateway started',
    );
    this.wake();
  }

  /**
   * Stops polling, queues what is batched, sends what the link takes within `drainMs`, says goodbye
   * (the will with reason shutdown) and closes. What is not sent stays in the disk queue for next time.
   */
  async stop(options: { graceful?: boolean; drainMs?: number } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.timer.clear();
    if (!this.session) return; // start() failed or never ran: it closed what it had opened
    for (const group of this.batcher.flush()) this.queueData(group);
    const graceful = options.graceful !== false;
    if (graceful) await this.drain(options.drainMs ?? DEFAULT_DRAIN_MS);
    this.stopped = true;
    if (graceful) {
      await this.session.stop(this.willPayload('shutdown'));
    } else {
      await this.session.kill();
    }
    await this.links.close();
    this.depthAtStop = this.outbox.depth;
    this.uplink.close();
    this.log?.info({ queued: this.depthAtStop }, 'gateway stopped');
  }

  private async drain(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.outbox.depth > 0 && this.session.connected && this.online.online && Date.now() < deadline) {
      this.uplink.pump(); // the wake-up timer is off while stopping: resend refused messages whose backoff passed
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  status(devs?: string[]): { complete: boolean; status: Record<string, unknown>; error?: string } {
    return buildStatus(this.snapshot(), devs);
  }

  // ---- devices -------------------------------------------------------------------------------------

  private addFrame(frame: Frame): void {
    for (const group of this.batcher.add(frame, this.clock.now())) this.queueData(group);
    this.wake();
  }

  // ---- uplink: everything ordered goes through the disk queue --------------------------------------

  private queueData(frames: Frame[]): void {
    this.stats.framesQueued += frames.length;
    this.stats.groupsQueued++;
    // ack: kept until the platform says it is stored (a platform that does not offer it ignores this)
    this.enqueue('data', (seq) => ({ ...this.head(seq), k: 'data', frames, ack: true }));
    this.explainWaiting();
  }

  /**
   * Connected to a broker but no heartbeat ever came: data stays queued, which looks like silence to
   * someone who started only a broker and this gateway. Say why, once.
   */
  private explainWaiting(): void {
    if (this.waitHintLogged || this.stats.heartbeats > 0 || !this.session?.connected) return;
    this.waitHintLogged = true;
    this.log?.info(
      { queued: this.outbox.depth },
      'holding data in the disk queue until a platform heartbeat arrives on the down topic: ' +
        'only the birth is sent before that (is a platform (mqiot up, edge or cloud) connected to this broker?)',
    );
  }

  private head(seq: number) {
    return head(this.config.id, seq, this.clock.now());
  }

  private enqueue(kind: string, build: (seq: number) => Envelope): number | undefined {
    return this.uplink.enqueue(kind, build);
  }

  private get linkUsable(): boolean {
    return !this.stopped && (this.session?.connected ?? false) && this.online.online;
  }

  // ---- MQTT session --------------------------------------------------------------------------------

  private willPayload(reason: string): Buffer {
    return encodeEnvelope(willEnvelope(this.head(this.birthSeq), this.outbox.epoch, reason));
  }

  private onConnect(sessionPresent: boolean): void {
    if (this.stopped) return;
    const birth = encodeEnvelope(
      birthEnvelope(this.head(this.birthSeq), this.outbox.epoch, this.devices.values(), this.catalog),
    );
    this.session.publish(birth, 1, () => undefined);
    this.birthSent = true;
    this.log?.info({ sessionPresent, birthSeq: this.birthSeq, queued: this.outbox.depth }, 'connected');
    this.uplink.pump();
  }

  private onClose(): void {
    this.uplink.connectionLost();
    const change = this.online.onDisconnect(this.clock.now());
    if (change) this.log?.warn({ queued: this.outbox.depth }, 'offline: connection lost, buffering to disk');
    if (this.birthSent && !this.stopped) {
      // the next connection gets a new birth; its will must carry that birth's seq
      this.birthSeq = this.outbox.reserveSeq();
      this.birthSent = false;
      this.session.setWill(this.willPayload('connection lost'));
    }
  }

  private onDownlink(payload: Buffer): void {
    if (this.stopped) return;
    const handled = dispatchDownlink(payload, this.config.id, {
      heartbeat: (msg) => this.onHeartbeat(msg),
      cmd: (msg) => this.commands.onCommand(msg.id, msg.dev, msg.action, msg.params),
      query: (msg) => {
        this.stats.queries++;
        const answer = this.status(msg.devs);
        this.enqueue('status', (seq) => statusEnvelope(this.head(seq), msg.id, answer));
      },
      reportAck: (seq) => {
        if (this.reports.onAck(seq)) this.stats.reportsAcked++;
      },
      dataAck: (msg) => this.uplink.onDataAck(msg.acks),
      catalogRequest: (msg) => this.sendCatalog(msg.items),
      bad: (err) => {
        this.stats.badDownlink++;
        this.log?.warn({ err: err.message }, 'bad downlink message ignored');
      },
    });
    if (handled) this.wake();
  }

  /** Answers a catalog-request with the text of each document asked for (docs/protocol.md, "Catalog"). */
  private sendCatalog(wanted: readonly { kind: 'contract' | 'model'; id: string }[]): void {
    const items: CatalogEnvelope['items'] = [];
    const missing: { kind: 'contract' | 'model'; id: string }[] = [];
    for (const ref of wanted) {
      const item = this.catalog.items.find((i) => i.kind === ref.kind && i.id === ref.id);
      const source = this.catalog.sources.get(`${ref.kind}:${ref.id}`);
      if (item && source !== undefined) items.push({ ...item, source });
      else missing.push({ kind: ref.kind, id: ref.id });
    }
    this.log?.info(
      { sent: items.map((i) => `${i.kind}:${i.id}`), missing },
      'platform asked for catalog documents',
    );
    this.enqueue('catalog', (seq) => ({
      ...this.head(seq),
      k: 'catalog',
      items,
      ...(missing.length > 0 ? { missing } : {}),
    }));
  }

  private onHeartbeat(msg: HeartbeatEnvelope): void {
    this.stats.heartbeats++;
    if (msg.interval !== undefined && msg.interval > 0) {
      const adapted = this.online.adapt(msg.interval);
      // logged once per change of the platform's period, not on every heartbeat
      if (adapted)
        this.log?.warn(
          adapted,
          'heartbeat.validIntervalMs is not longer than the platform heartbeat period: using 2.5 periods instead',
        );
    }
    this.uplink.platformAcknowledges(msg.acks);
    const change = this.online.onHeartbeat(this.clock.now()); // online = 1, last communication = now
    if (change) this.log?.info({ queued: this.outbox.depth }, 'online: resuming from the disk queue');
    this.uplink.pump(); // breakpoint resume
  }

  // ---- timers: one wake-up at the earliest deadline of all machines ---------------------------------

  private wake(): void {
    if (this.stopping) return;
    const now = this.clock.now();
    if (this.online.tick(now))
      this.log?.warn({ queued: this.outbox.depth }, 'offline: heartbeat lapsed, buffering to disk');
    for (const group of this.batcher.tick(now)) this.queueData(group);
    this.polling.runDue(now);
    // refused messages due for their resend (only while the link is usable: else a reconnect or the
    // next heartbeat pumps them)
    if ((this.uplink.nextAt() ?? Infinity) <= now) this.uplink.pump();
    const { makeReport, resend } = this.reports.tick(now, this.session.connected && this.online.online);
    if (makeReport) {
      this.stats.reportsQueued++;
      this.enqueue('report', (seq) => ({
        ...this.head(seq),
        k: 'report',
        report: buildReport(this.snapshot()),
      }));
    }
    for (const r of resend) {
      this.stats.reportsResent++;
      this.session.publish(r.payload, this.config.mqtt.qos, (err) => {
        if (!err) this.reports.onPublished(r.seq, this.clock.now());
      });
    }
    const next = Math.min(
      this.online.nextAt() ?? Infinity,
      this.batcher.nextAt() ?? Infinity,
      this.polling.nextAt() ?? Infinity,
      this.reports.nextAt(),
      this.uplink.nextAt() ?? Infinity,
    );
    this.timer.arm(next, now);
  }

  private snapshot() {
    return {
      id: this.config.id,
      now: this.clock.now(),
      online: this.online.online,
      connected: this.session?.connected ?? false,
      lastCommunication: this.online.lastCommunication ?? null,
      onlineChangedAt: this.online.changedAt ?? null,
      epoch: this.outbox.epoch,
      nextSeq: this.outbox.nextSeq,
      queueDepth: this.outbox.depth,
      dropped: this.outbox.dropped,
      reportsPending: this.reports.unacknowledged.length,
      reportsGivenUp: this.reports.givenUp,
      stats: this.stats,
      devices: [...this.devices.values()].map((d) => d.health),
    };
  }
}
