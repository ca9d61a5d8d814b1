// The gateway: wires devices, the state machines (poll schedule, batching, online status, reports,
// command cache) and the disk queue to one MQTT session. All protocol decisions live in the machines;
// this file turns their answers into sockets, timers and publishes.
import type { Logger } from 'pino';
import type { Contract } from '../contracts/index.ts';
import {
  decodeEnvelope,
  encodeEnvelope,
  PROTOCOL_VERSION,
  type DownlinkEnvelope,
  type Envelope,
  type Frame,
} from '../protocol/envelope.ts';
import { gatewayDownTopic, gatewayUpTopic } from '../protocol/gateway-topics.ts';
import { Batcher } from './batcher.ts';
import { systemClock, type TimerClock } from './clock.ts';
import { CommandCache, type CommandOutcome } from './command-cache.ts';
import type { GatewayConfig } from './config.ts';
import { resolveContracts } from './contracts.ts';
import { DeviceLinks, type OpenSerial } from './device-links.ts';
import { Device } from './device.ts';
import { BrokerLink } from './broker-link.ts';
import { OnlineTracker } from './online.ts';
import type { Outbox } from './outbox.ts';
import { PollScheduler } from './poll-scheduler.ts';
import { ReportTracker } from './reports.ts';
import { buildReport, buildStatus, type GatewayStats } from './status.ts';
import { UplinkPump } from './uplink-pump.ts';

export const SOFTWARE = 'mqiot-gateway 0.1.0';
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
  private readonly commands: CommandCache;
  private uplink!: UplinkPump;
  private reports!: ReportTracker;
  private scheduler!: PollScheduler;
  private session!: BrokerLink;
  private birthSeq = 0;
  private birthSent = false;
  /** The "waiting for a platform heartbeat" hint was logged (once per process). */
  private waitHintLogged = false;
  private timer: unknown;
  private wakeAt = Infinity;
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
    this.commands = new CommandCache({ size: config.commands.cacheSize, ttlMs: config.commands.cacheTtlMs });
    this.links = new DeviceLinks(deps.openSerial);
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
    const pollEntries: { key: string; everyMs: number }[] = [];
    try {
      const contracts = resolveContracts(this.config, this.deps.contracts);
      for (const dc of this.config.devices) {
        const contract = contracts.get(dc.id)!;
        const link = await this.links.linkFor(dc, contract, (raw) => this.onPushedFrame(dc.id, raw));
        const device = new Device(dc, contract, link, () => this.clock.now());
        this.devices.set(dc.id, device);
        dc.poll.forEach((p, i) => pollEntries.push({ key: `${dc.id}#${i}`, everyMs: p.everyMs }));
      }
    } catch (err) {
      await this.links.close();
      this.uplink.close();
      throw err;
    }
    this.scheduler = new PollScheduler(pollEntries, now);
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
    this.clock.clearTimeout(this.timer);
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

  private onPushedFrame(dev: string, raw: Buffer): void {
    const device = this.devices.get(dev);
    if (!device || this.stopping) return;
    device.health.lastPoll = device.health.lastOk = this.clock.now();
    this.addFrame({ dev, c: device.contract.id, ts: this.clock.now(), seq: device.nextFrameSeq(), raw });
  }

  private runPoll(key: string): void {
    const [dev, index] = key.split('#') as [string, string];
    const device = this.devices.get(dev)!;
    const req = device.config.poll[Number(index)]!;
    device
      .poll(req)
      .then(
        (answer) => {
          if (this.stopping) return;
          const frame: Frame = {
            dev,
            c: device.contract.id,
            ts: this.clock.now(),
            seq: device.nextFrameSeq(),
            raw: answer.raw,
            ctx: answer.ctx,
          };
          this.addFrame(frame);
        },
        (err: unknown) => {
          // log the change (first failure), not every failed poll of a device that stays silent
          const level = device.health.consecutiveErrors === 1 ? 'warn' : 'debug';
          this.log?.[level]({ dev, req: req.name, err: (err as Error).message }, 'poll failed');
        },
      )
      .finally(() => {
        this.scheduler.done(key);
        this.wake();
      })
      .catch(() => undefined);
  }

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
    return { v: PROTOCOL_VERSION as typeof PROTOCOL_VERSION, gw: this.config.id, seq, ts: this.clock.now() };
  }

  private enqueue(kind: string, build: (seq: number) => Envelope): number | undefined {
    return this.uplink.enqueue(kind, build);
  }

  private get linkUsable(): boolean {
    return !this.stopped && (this.session?.connected ?? false) && this.online.online;
  }

  // ---- MQTT session --------------------------------------------------------------------------------

  private willPayload(reason: string): Buffer {
    return encodeEnvelope({ ...this.head(this.birthSeq), k: 'will', epoch: this.outbox.epoch, reason });
  }

  private onConnect(sessionPresent: boolean): void {
    if (this.stopped) return;
    const devices = [...this.devices.values()].map((d) => ({
      dev: d.config.id,
      c: d.contract.id,
      ...(d.config.model ? { model: d.config.model } : {}),
      ...(d.config.poll.length ? { pollMs: Math.min(...d.config.poll.map((p) => p.everyMs)) } : {}),
      transport: d.config.transport.type,
      address:
        'path' in d.config.transport
          ? d.config.transport.path
          : `${d.config.transport.host}:${d.config.transport.port}`,
    }));
    const birth = encodeEnvelope({
      ...this.head(this.birthSeq),
      k: 'birth',
      epoch: this.outbox.epoch,
      sw: SOFTWARE,
      devices,
    });
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
    let msg: Envelope;
    try {
      msg = decodeEnvelope(payload);
    } catch (err) {
      this.stats.badDownlink++;
      this.log?.warn({ err: (err as Error).message }, 'bad downlink message ignored');
      return;
    }
    if (msg.gw !== this.config.id) return;
    this.handleDownlink(msg as DownlinkEnvelope);
    this.wake();
  }

  private handleDownlink(msg: DownlinkEnvelope): void {
    const now = this.clock.now();
    switch (msg.k) {
      case 'heartbeat': {
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
        const change = this.online.onHeartbeat(now); // heartbeat: online = 1, last communication = now
        if (change) this.log?.info({ queued: this.outbox.depth }, 'online: resuming from the disk queue');
        this.uplink.pump(); // breakpoint resume
        return;
      }
      case 'cmd':
        return this.onCommand(msg.id, msg.dev, msg.action, msg.params);
      case 'query': {
        this.stats.queries++;
        const { complete, status, error } = this.status(msg.devs);
        this.enqueue('status', (seq) => ({
          ...this.head(seq),
          k: 'status',
          id: msg.id,
          complete,
          status,
          ...(error ? { error } : {}),
        }));
        return;
      }
      case 'report-ack':
        if (this.reports.onAck(msg.ack)) this.stats.reportsAcked++;
        return;
      case 'data-ack':
        return this.uplink.onDataAck(msg.acks);
    }
  }

  private onCommand(id: string, dev: string, action: string, params: Record<string, unknown>): void {
    const decision = this.commands.begin(id, this.clock.now());
    if (decision.action === 'in-progress') return; // its result is on the way
    if (decision.action === 'cached') {
      this.stats.commandsCached++;
      this.sendResult(id, dev, decision.outcome, true); // a resent command is not executed twice
      return;
    }
    this.stats.commandsExecuted++;
    this.execute(dev, action, params).then((outcome) => {
      this.commands.complete(id, outcome, this.clock.now());
      if (!this.stopped) this.sendResult(id, dev, outcome, false);
    });
  }

  private async execute(
    dev: string,
    action: string,
    params: Record<string, unknown>,
  ): Promise<CommandOutcome> {
    const device = this.devices.get(dev);
    if (!device) return { ok: false, error: `unknown device '${dev}'` };
    if (action === 'poll') {
      device.config.poll.forEach((_, i) => this.scheduler.trigger(`${dev}#${i}`, this.clock.now()));
      this.wake();
      return { ok: true, result: { polls: device.config.poll.length } };
    }
    return device.command(action, params);
  }

  private sendResult(id: string, dev: string, outcome: CommandOutcome, cached: boolean): void {
    this.enqueue('cmd-result', (seq) => ({
      ...this.head(seq),
      k: 'cmd-result',
      id,
      dev,
      ok: outcome.ok,
      ...(outcome.result ? { result: outcome.result } : {}),
      ...(outcome.error ? { error: outcome.error } : {}),
      ...(cached ? { cached: true } : {}),
    }));
  }

  // ---- timers: one wake-up at the earliest deadline of all machines ---------------------------------

  private wake(): void {
    if (this.stopping) return;
    const now = this.clock.now();
    if (this.online.tick(now))
      this.log?.warn({ queued: this.outbox.depth }, 'offline: heartbeat lapsed, buffering to disk');
    for (const group of this.batcher.tick(now)) this.queueData(group);
    for (const key of this.scheduler.due(now)) this.runPoll(key);
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
      this.scheduler.nextAt() ?? Infinity,
      this.reports.nextAt(),
      this.uplink.nextAt() ?? Infinity,
    );
    if (next === this.wakeAt && this.timer !== undefined) return;
    this.clock.clearTimeout(this.timer);
    this.wakeAt = next;
    if (next === Infinity) return;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.wakeAt = Infinity;
        this.wake();
      },
      Math.max(0, next - now),
    );
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
