import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import mqttPacket, {
  type IConnackPacket,
  type IConnectPacket,
  type IDisconnectPacket,
  type ISubscribePacket,
  type IUnsubscribePacket,
  type Packet,
} from 'mqtt-packet';
import type { Logger } from 'pino';
import { ConnectReturnCode, ReasonCode } from '../protocol/reason-codes.ts';
import { PendingMerge, connackCode, mergeConnack } from './ack-merge.ts';
import type { Clock } from './clock.ts';
import type { AccessOptions } from './config.ts';
import type { AccessCounters } from './counters.ts';
import { DedupWindow } from './dedup.ts';
import { BrokerToClientFlows } from './broker-to-client.ts';
import { FailoverController, UPSTREAM_NAMES, Upstream, type Transition } from './failover.ts';
import {
  FrameSplitter,
  PINGREQ_FRAME,
  PINGRESP_FRAME,
  PacketType,
  frameType,
  publishPropertiesLength,
} from './frames.ts';
import { SubscriptionSync } from './subscriptions.ts';
import { SysTopic, activeName, matchesAny, statsPayload } from './sys-topics.ts';
import { ClientToBrokerFlows, type FlowSink } from './client-to-brokers.ts';
import { UpstreamLink, parseWhole, type UpstreamListener } from './upstream.ts';

export interface SessionDeps {
  readonly options: AccessOptions;
  readonly clock: Clock;
  readonly counters: AccessCounters;
  readonly logger?: Logger;
  readonly random?: () => number;
  readonly onClose?: (session: ClientSession) => void;
}

const Phase = { Connect: 0, Merging: 1, Ready: 2, Closed: 3 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

const ALL_UPSTREAMS = [Upstream.Broker1, Upstream.Broker2] as const;
/** Our PINGRESP when no broker answers the forwarded PINGREQ in this time (the module itself is alive). */
const PING_ANSWER_MS = 1000;

/**
 * One client of the access module: its connection, and its two sessions upstream. The merges,
 * failover decisions and flows are the pure classes; this class wires them to sockets and timers.
 */
export class ClientSession implements UpstreamListener, FlowSink {
  clientId = '';
  private phase: Phase = Phase.Connect;
  private v5 = false;
  private settings: { protocolVersion: 3 | 4 | 5 } = { protocolVersion: 4 };
  private parser = mqttPacket.parser(this.settings);
  private readonly splitter = new FrameSplitter();
  private readonly queued: Buffer[] = [];
  readonly links: [UpstreamLink, UpstreamLink];
  readonly controller: FailoverController;
  private toBrokers: ClientToBrokerFlows;
  private toClient: BrokerToClientFlows | undefined;
  private connectMerge: PendingMerge<IConnackPacket> | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private assignedClientId = false;
  private readonly subs: SubscriptionSync;
  private failbackTimer: NodeJS.Timeout | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private pingsPending = 0;
  /** Per broker: when its pinned QoS 2 messages stop waiting for it (see ClientToBrokerFlows). */
  private readonly qos2Timers: [NodeJS.Timeout | undefined, NodeJS.Timeout | undefined] = [
    undefined,
    undefined,
  ];
  private lastClientRx = 0;
  private paused = false;

  constructor(
    private readonly socket: Duplex,
    private readonly deps: SessionDeps,
  ) {
    const { options, clock, counters, logger, random } = deps;
    this.links = [
      new UpstreamLink(Upstream.Broker1, options, clock, this, logger, random),
      new UpstreamLink(Upstream.Broker2, options, clock, this, logger, random),
    ];
    this.controller = new FailoverController({ failbackHoldMs: options.failbackHoldMs }, clock);
    this.toBrokers = new ClientToBrokerFlows(this, counters);
    this.subs = new SubscriptionSync(
      {
        isUp: (u) => this.links[u].isUp,
        sendUpstream: (u, packet) => this.links[u].sendPacket(packet),
        sendClient: (packet) => this.sendPacket(packet),
      },
      clock,
      { mergeWaitMs: options.mergeWaitMs, timeoutMs: options.connectTimeoutMs, sysTopics: options.sysTopics },
    );
    this.lastClientRx = clock.now();
    socket.on('data', (chunk: Buffer) => {
      this.lastClientRx = this.deps.clock.now();
      try {
        this.splitter.push(chunk, this.onClientFrameBound);
      } catch (err) {
        this.protocolError((err as Error).message);
      }
    });
    socket.on('error', () => this.close(false));
    socket.on('close', () => this.close(false));
    // [MQTT-3.1.4-1]-style guard: a connection that never sends CONNECT is dropped.
    this.connectTimer = setTimeout(() => this.close(false), options.connectTimeoutMs * 2);
  }

  get active(): Upstream | null {
    return this.controller.active;
  }

  get isReady(): boolean {
    return this.phase === Phase.Ready;
  }

  // ---- FlowSink -------------------------------------------------------------------------------
  sendClient(frame: Buffer): void {
    if (this.phase === Phase.Closed) return;
    if (!this.corked) {
      this.corked = true; // see UpstreamLink.send: one write per incoming chunk
      (this.socket as Duplex & { cork(): void }).cork();
      process.nextTick(this.uncork);
    }
    this.socket.write(frame);
  }

  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  sendUpstream(upstream: Upstream, frame: Buffer): void {
    this.links[upstream].send(frame);
  }

  // ---- client side ----------------------------------------------------------------------------
  /** Returns false when reading must pause (the splitter keeps the rest of the chunk). */
  private readonly onClientFrameBound = (frame: Buffer): boolean => {
    this.onClientFrame(frame);
    return !this.paused;
  };

  private onClientFrame(frame: Buffer): void {
    if (this.phase === Phase.Ready) return this.dispatchClient(frame);
    if (this.phase === Phase.Merging) {
      this.queued.push(frame); // packets a client may send before the CONNACK: handled after it
      return;
    }
    if (this.phase === Phase.Closed) return;
    const packet = parseWhole(this.parser, frame);
    if (packet?.cmd !== 'connect') return this.protocolError('first packet is not CONNECT'); // [MQTT-3.1.0-1]
    this.onConnect(packet);
  }

  private dispatchClient(frame: Buffer): void {
    const type = frameType(frame);
    switch (type) {
      case PacketType.Publish:
        if (this.v5 && publishPropertiesLength(frame) > 0 && this.usesTopicAlias(frame)) {
          // We granted Topic Alias Maximum 0: an alias would not survive a failover [MQTT-3.3.2-9].
          return this.protocolError('topic alias used', ReasonCode.TopicAliasInvalid);
        }
        this.toBrokers.clientPublish(frame);
        this.applyBackpressure();
        return;
      case PacketType.Puback:
      case PacketType.Pubrec:
      case PacketType.Pubcomp:
        return this.toClient!.clientAck(type, frame);
      case PacketType.Pubrel:
        return this.toBrokers.clientPubrel(frame);
      case PacketType.Pingreq:
        return this.onPingreq();
      case PacketType.Subscribe: {
        const local = this.subs.subscribe(parseWhole(this.parser, frame) as ISubscribePacket);
        if (local.length > 0) this.sendSysState(local);
        return;
      }
      case PacketType.Unsubscribe:
        return this.subs.unsubscribe(parseWhole(this.parser, frame) as IUnsubscribePacket);
      case PacketType.Disconnect:
        return this.onClientDisconnect(parseWhole(this.parser, frame) as IDisconnectPacket);
      default:
        return this.protocolError(`unexpected packet type ${type}`); // e.g. a second CONNECT [MQTT-3.1.0-2]
    }
  }

  private onConnect(packet: IConnectPacket): void {
    const { options, counters, clock } = this.deps;
    clearTimeout(this.connectTimer);
    this.settings = { protocolVersion: packet.protocolVersion ?? 4 };
    this.parser = mqttPacket.parser(this.settings);
    this.v5 = this.settings.protocolVersion === 5;
    this.subs.v5 = this.v5;
    this.toClient = new BrokerToClientFlows(this, this.newDedup(), this.v5, counters);
    counters.clientsTotal++;
    let clientId = packet.clientId;
    if (clientId === '') {
      if (!this.v5 && !packet.clean) {
        // [MQTT-3.1.3-8] an empty id needs CleanSession = 1 in 3.1.1
        return this.refuse(ConnectReturnCode.IdentifierRejected);
      }
      // One id for both brokers (each would assign a different one) [MQTT-3.1.3-6]
      clientId = `mqiot-access-${randomBytes(8).toString('hex')}`;
      this.assignedClientId = true;
    }
    this.clientId = clientId;
    if (this.v5 && packet.properties?.authenticationMethod !== undefined) {
      // Enhanced authentication (AUTH) is not relayed yet (docs/access.md): say so at once with the
      // code the spec gives for an unsupported method, rather than a link that fails at the broker.
      return this.refuse(ReasonCode.BadAuthenticationMethod);
    }
    const upstreamConnect: IConnectPacket = { ...packet, clientId };
    if (this.v5) {
      const properties = { ...packet.properties };
      // Both brokers may send at once: each gets half of what the client can take [MQTT-3.3.4-9].
      properties.receiveMaximum = Math.max(1, Math.floor((packet.properties?.receiveMaximum ?? 65535) / 2));
      delete properties.topicAliasMaximum; // no aliases from the brokers: we forward their bytes as they are
      upstreamConnect.properties = properties;
    }
    if (packet.keepalive) {
      // [MQTT-3.1.2-24] 1.5 × the client's keep-alive without a packet: the connection is gone.
      const ms = packet.keepalive * 1000;
      this.keepAliveTimer = setInterval(() => {
        if (clock.now() - this.lastClientRx > ms * 1.5) this.close(false);
      }, ms / 2);
    }
    this.phase = Phase.Merging;
    this.connectMerge = new PendingMerge(ALL_UPSTREAMS, clock, options.mergeWaitMs, options.connectTimeoutMs);
    this.links[0].start(upstreamConnect);
    this.links[1].start(upstreamConnect);
    this.armConnectTimer();
  }

  private armConnectTimer(): void {
    clearTimeout(this.connectTimer);
    const merge = this.connectMerge!;
    const delay = Math.max(0, merge.nextDeadline() - this.deps.clock.now());
    this.connectTimer = setTimeout(() => this.checkConnectMerge(), delay + 1);
  }

  private checkConnectMerge(): void {
    const merge = this.connectMerge;
    if (this.phase !== Phase.Merging || merge === undefined) return;
    if (!merge.isComplete()) return this.armConnectTimer();
    clearTimeout(this.connectTimer);
    this.connectMerge = undefined;
    const { accepted, connack } = mergeConnack(merge.replies, this.v5);
    if (accepted.length === 0) {
      this.deps.counters.clientsRefused++;
      this.deps.logger?.info(
        { clientId: this.clientId, code: connackCode(connack, this.v5) },
        'client refused',
      );
      this.sendPacket(connack);
      return this.close(false);
    }
    if (this.v5) {
      const props = connack.properties!;
      props.receiveMaximum = Math.min(props.receiveMaximum ?? 65535, this.deps.options.maxInflight);
      if (this.assignedClientId) props.assignedClientIdentifier = this.clientId; // [MQTT-3.2.2-16]
    }
    this.sendPacket(connack);
    this.phase = Phase.Ready;
    this.deps.counters.clientsConnected++;
    for (const u of accepted) if (this.links[u].isUp) this.linkUp(u, merge.replies[u]!, true);
    const queued = this.queued.splice(0);
    for (const frame of queued) if (this.phase === Phase.Ready) this.dispatchClient(frame);
  }

  private refuse(code: number): void {
    this.deps.counters.clientsRefused++;
    const connack: IConnackPacket = { cmd: 'connack', sessionPresent: false };
    if (this.v5) connack.reasonCode = code;
    else connack.returnCode = code;
    this.sendPacket(connack);
    this.close(false);
  }

  private onPingreq(): void {
    const up = ALL_UPSTREAMS.filter((u) => this.links[u].isUp);
    if (up.length === 0) return this.sendClient(PINGRESP_FRAME);
    this.pingsPending++;
    for (const u of up) this.links[u].send(PINGREQ_FRAME);
    if (this.pingTimer === undefined) this.pingTimer = setTimeout(() => this.answerPings(), PING_ANSWER_MS);
  }

  private answerPings(): void {
    clearTimeout(this.pingTimer);
    this.pingTimer = undefined;
    for (; this.pingsPending > 0; this.pingsPending--) this.sendClient(PINGRESP_FRAME);
  }

  private onClientDisconnect(packet: IDisconnectPacket): void {
    if (packet.reasonCode === ReasonCode.DisconnectWithWillMessage) {
      // The client asks for its will: the active broker gets 0x04 and publishes it, the other a
      // normal DISCONNECT that drops it — published once (see closeLinksForWill).
      this.closeLinksForWill((link) => link.close(true, packet), { ...packet, reasonCode: 0 });
    } else for (const link of this.links) link.close(true, packet); // both drop the will [MQTT-3.14.4-3]
    this.close(true);
  }

  /**
   * The client's will is placed on both brokers (its CONNECT goes to both), so that whichever broker
   * is active when the client goes can publish it; but only one may. The other link is closed first
   * with a normal DISCONNECT (that broker discards the will [MQTT-3.14.4-3]), then the active one is
   * ended by `endActive` (cut: the broker publishes the will as for any lost connection; or 0x04).
   * With no active broker nobody can publish it: both links are simply closed.
   */
  private closeLinksForWill(endActive: (link: UpstreamLink) => void, disconnect?: Packet): void {
    const active = this.controller.active;
    for (const u of ALL_UPSTREAMS) if (u !== active) this.links[u].close(true, disconnect);
    if (active !== null) endActive(this.links[active]);
  }

  // ---- upstream side (UpstreamListener) -------------------------------------------------------
  onConnack(upstream: Upstream, connack: IConnackPacket): void {
    const accepted = connackCode(connack, this.v5) === ReasonCode.Success;
    if (this.phase === Phase.Merging && this.connectMerge) {
      this.connectMerge.reply(upstream, connack, accepted);
      this.checkConnectMerge();
    } else if (this.phase === Phase.Ready && accepted) this.linkUp(upstream, connack, false);
  }

  private linkUp(upstream: Upstream, connack: IConnackPacket, initial: boolean): void {
    this.deps.counters.upstreamConnects[upstream]++;
    const receiveMaximum = connack.properties?.receiveMaximum;
    if (this.v5 && receiveMaximum !== undefined) this.toBrokers.setUpstreamLimit(upstream, receiveMaximum);
    if (!initial) {
      this.toClient!.upstreamSession(upstream, connack.sessionPresent);
      this.subs.resync(upstream, connack.sessionPresent);
    }
    if (!initial) {
      // Before the transition: QoS 2 messages this broker forgot wait for (or go to) the active one.
      clearTimeout(this.qos2Timers[upstream]);
      this.toBrokers.upstreamBack(upstream, connack.sessionPresent);
    }
    const transition = this.controller.upstreamUp(upstream);
    if (transition) this.applyTransition(transition);
    this.scheduleFailback();
    this.publishSys(upstream === 0 ? SysTopic.Broker1 : SysTopic.Broker2, 'up');
  }

  onFrame(upstream: Upstream, type: number, frame: Buffer): void {
    switch (type) {
      case PacketType.Publish:
        if (this.phase === Phase.Ready) this.toClient!.upstreamPublish(upstream, frame);
        return;
      case PacketType.Puback:
      case PacketType.Pubrec:
      case PacketType.Pubcomp:
        this.toBrokers.upstreamAck(upstream, type, frame);
        if (this.paused) this.applyBackpressure();
        return;
      case PacketType.Pubrel:
        return this.toClient!.upstreamPubrel(upstream, frame);
      case PacketType.Suback:
      case PacketType.Unsuback: {
        const packet = parseWhole(this.parser, frame);
        if (packet) this.subs.onReply(upstream, packet);
        return;
      }
      case PacketType.Pingresp:
        if (this.pingsPending > 0) this.answerPings();
        return;
      default:
        return; // AUTH and anything else from a broker: not forwarded
    }
  }

  onDrain(): void {
    if (this.paused) this.applyBackpressure();
  }

  /**
   * Reading from the client stops while too many of its QoS 1/2 messages wait for a broker, or while
   * the active broker's socket has more queued than it takes (QoS 0 floods): memory stays bounded and
   * TCP flow control reaches the client. Reading from the brokers is never paused (it carries their
   * keep-alive); what they send is bounded by Receive Maximum.
   */
  private applyBackpressure(): void {
    const active = this.controller.active;
    const full =
      this.toBrokers.inflight >= this.deps.options.maxInflight ||
      (active !== null && this.links[active].needsDrain);
    if (full && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!full && this.paused) {
      this.paused = false;
      try {
        this.splitter.resume(this.onClientFrameBound); // the frames left in the last chunk first
      } catch (err) {
        return this.protocolError((err as Error).message);
      }
      if (!this.paused) this.socket.resume();
    }
  }

  onDown(upstream: Upstream, cause: string, wasUp: boolean): void {
    if (this.phase === Phase.Closed) return;
    if (this.connectMerge) {
      this.connectMerge.lost(upstream);
      this.checkConnectMerge();
    }
    this.subs.upstreamLost(upstream);
    if (!wasUp) return;
    this.deps.counters.upstreamDowns[upstream]++;
    const transition = this.controller.upstreamDown(upstream, cause);
    if (transition) this.applyTransition(transition);
    this.toBrokers.upstreamLost(upstream);
    if (this.toBrokers.pinnedOn(upstream) > 0) {
      clearTimeout(this.qos2Timers[upstream]);
      this.qos2Timers[upstream] = setTimeout(
        () => this.toBrokers.movePinned(upstream),
        this.deps.options.qos2HoldMs,
      );
    }
    this.toClient!.upstreamLost(upstream);
    this.scheduleFailback();
    this.publishSys(upstream === 0 ? SysTopic.Broker1 : SysTopic.Broker2, 'down');
    if (this.pingsPending > 0 && !this.links[0].isUp && !this.links[1].isUp) this.answerPings();
  }

  private applyTransition(t: Transition): void {
    this.toBrokers.setActive(t.to);
    if (this.paused) this.applyBackpressure();
    this.deps.counters.record({ ...t, clientId: this.clientId });
    this.deps.logger?.info(
      {
        clientId: this.clientId,
        kind: t.kind,
        from: activeName(t.from),
        to: activeName(t.to),
        cause: t.cause,
      },
      'active broker changed',
    );
    this.publishSys(SysTopic.Active, activeName(t.to));
    this.publishSys(
      SysTopic.Event,
      JSON.stringify({
        kind: t.kind,
        from: activeName(t.from),
        to: activeName(t.to),
        cause: t.cause,
        at: t.at,
      }),
    );
  }

  private scheduleFailback(): void {
    clearTimeout(this.failbackTimer);
    const due = this.controller.nextDeadline();
    if (due === undefined || this.phase === Phase.Closed) return;
    this.failbackTimer = setTimeout(
      () => {
        const t = this.controller.tick();
        if (t) this.applyTransition(t);
        this.scheduleFailback();
      },
      Math.max(0, due - this.deps.clock.now()) + 1,
    );
  }

  // ---- $SYS -----------------------------------------------------------------------------------
  private sendSysState(filters: string[]): void {
    const state: [string, string][] = [
      [SysTopic.Active, activeName(this.controller.active)],
      [SysTopic.Broker1, this.links[0].isUp ? 'up' : 'down'],
      [SysTopic.Broker2, this.links[1].isUp ? 'up' : 'down'],
      [SysTopic.Stats, statsPayload(this.deps.counters)],
    ];
    const recent = this.deps.counters.recent;
    let last: (typeof recent)[number] | undefined;
    for (const r of recent) if (r.clientId === this.clientId) last = r;
    if (last)
      state.push([
        SysTopic.Event,
        JSON.stringify({
          kind: last.kind,
          from: activeName(last.from),
          to: activeName(last.to),
          cause: last.cause,
          at: last.at,
        }),
      ]);
    for (const [topic, payload] of state) {
      if (matchesAny(filters, topic))
        this.sendPacket({ cmd: 'publish', topic, payload, qos: 0, retain: true, dup: false });
    }
  }

  private publishSys(topic: string, payload: string): void {
    if (this.subs.sysFilters.size === 0 || this.phase !== Phase.Ready) return;
    if (matchesAny(this.subs.sysFilters, topic))
      this.sendPacket({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false });
  }

  // ---- teardown -------------------------------------------------------------------------------
  private sendPacket(packet: Packet): void {
    this.sendClient(mqttPacket.generate(packet, this.settings));
  }

  private usesTopicAlias(frame: Buffer): boolean {
    const packet = parseWhole(this.parser, frame);
    return packet?.cmd === 'publish' && packet.properties?.topicAlias !== undefined;
  }

  private protocolError(message: string, reasonCode: number = ReasonCode.ProtocolError): void {
    this.deps.logger?.warn({ clientId: this.clientId, message }, 'client protocol error');
    if (this.v5 && this.phase === Phase.Ready) this.sendPacket({ cmd: 'disconnect', reasonCode }); // [MQTT-4.13.1-1]
    this.close(false);
  }

  /** Ends the session. Not graceful: the client is lost, so the active broker publishes its will. */
  close(graceful: boolean): void {
    if (this.phase === Phase.Closed) return;
    const wasReady = this.phase === Phase.Ready;
    this.phase = Phase.Closed;
    if (graceful || !wasReady) for (const link of this.links) link.close(graceful);
    else this.closeLinksForWill((link) => link.close(false)); // the client is lost: its will, once
    clearTimeout(this.connectTimer);
    clearTimeout(this.failbackTimer);
    clearInterval(this.keepAliveTimer);
    clearTimeout(this.pingTimer);
    for (const t of this.qos2Timers) clearTimeout(t);
    this.subs.close();
    if (wasReady) this.deps.counters.clientsConnected--;
    if (this.corked) this.uncork(); // a last CONNACK / DISCONNECT must leave before the socket goes
    if (graceful) this.socket.end();
    else this.socket.destroy();
    this.deps.onClose?.(this);
  }

  /** Ends the session because the module stops: v5 clients are told 0x8B (server shutting down). */
  shutdown(): void {
    if (this.v5 && this.phase === Phase.Ready)
      this.sendPacket({ cmd: 'disconnect', reasonCode: ReasonCode.ServerShuttingDown });
    for (const link of this.links) link.close(true);
    this.close(true);
  }

  private newDedup(): DedupWindow {
    const { dedupMaxEntries, dedupWindowMs } = this.deps.options;
    return new DedupWindow({ maxEntries: dedupMaxEntries, windowMs: dedupWindowMs }, this.deps.clock);
  }

  describe(): { clientId: string; active: string; broker1: boolean; broker2: boolean } {
    return {
      clientId: this.clientId,
      active: activeName(this.controller.active),
      [UPSTREAM_NAMES[0]]: this.links[0].isUp,
      [UPSTREAM_NAMES[1]]: this.links[1].isUp,
    } as { clientId: string; active: string; broker1: boolean; broker2: boolean };
  }
}
