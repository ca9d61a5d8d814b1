import type { Duplex } from 'node:stream';
import mqttPacket, {
  type IAuthPacket,
  type IConnackPacket,
  type IConnectPacket,
  type IDisconnectPacket,
  type ISubscribePacket,
  type IUnsubscribePacket,
  type Packet,
} from 'mqtt-packet';
import type { Logger } from 'pino';
import { ReasonCode } from '../protocol/reason-codes.ts';
import { PendingMerge, connackCode, mergeConnack } from './ack-merge.ts';
import type { Clock } from './clock.ts';
import type { AccessOptions } from './config.ts';
import type { AccessCounters } from './counters.ts';
import { DedupWindow } from './dedup.ts';
import { BrokerToClientFlows } from './broker-to-client.ts';
import { FailoverController, UPSTREAM_NAMES, Upstream, type Transition } from './failover.ts';
import { AuthRelay, Reauthentication } from './auth-relay.ts';
import { chooseClientId, offerToClient, refusal, upstreamConnectOf } from './client-connect.ts';
import { ClientSocket, type ClientSocketListener } from './client-socket.ts';
import { PacketType, frameType, publishPropertiesLength } from './frames.ts';
import { PingRelay } from './ping-relay.ts';
import { SessionSys } from './session-sys.ts';
import { SubscriptionSync } from './subscriptions.ts';
import { activeName } from './sys-topics.ts';
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

/** The reason code of a broker's DISCONNECT, from the link's down cause (`server-disconnect:0x87`). */
function disconnectReason(cause: string): number | undefined {
  const m = /^server-disconnect:0x([0-9a-f]{2})$/.exec(cause);
  return m ? parseInt(m[1]!, 16) : undefined;
}

/**
 * One client of the access module: its connection, and its two sessions upstream. The merges,
 * failover decisions and flows are the pure classes; the client's socket (client-socket.ts), its pings
 * (ping-relay.ts) and its $SYS view (session-sys.ts) have their own; this class wires them together
 * with the timers.
 */
export class ClientSession implements UpstreamListener, FlowSink, ClientSocketListener {
  clientId = '';
  private phase: Phase = Phase.Connect;
  private v5 = false;
  private settings: { protocolVersion: 3 | 4 | 5 } = { protocolVersion: 4 };
  private parser = mqttPacket.parser(this.settings);
  private readonly client: ClientSocket;
  private readonly pings: PingRelay;
  private readonly sys: SessionSys;
  private readonly queued: Buffer[] = [];
  readonly links: [UpstreamLink, UpstreamLink];
  readonly controller: FailoverController;
  private toBrokers: ClientToBrokerFlows;
  private toClient: BrokerToClientFlows | undefined;
  private connectMerge: PendingMerge<IConnackPacket> | undefined;
  /** Enhanced authentication relayed between the client and both brokers (auth-relay.ts). */
  private auth: AuthRelay | undefined;
  /** The client's latest re-authentication (AUTH 0x19 after the CONNACK), relayed to both brokers. */
  private reauth: Reauthentication | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private assignedClientId = false;
  private readonly subs: SubscriptionSync;
  private failbackTimer: NodeJS.Timeout | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  /** Per broker: when its pinned QoS 2 messages stop waiting for it (see ClientToBrokerFlows). */
  private readonly qos2Timers: [NodeJS.Timeout | undefined, NodeJS.Timeout | undefined] = [
    undefined,
    undefined,
  ];

  constructor(
    socket: Duplex,
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
    this.pings = new PingRelay({
      upstreamsUp: () => ALL_UPSTREAMS.filter((u) => this.links[u].isUp),
      sendUpstream: (u, frame) => this.links[u as Upstream].send(frame),
      sendClient: (frame) => this.sendClient(frame),
    });
    this.sys = new SessionSys({
      clientId: () => this.clientId,
      counters,
      active: () => this.controller.active,
      isUp: (u) => this.links[u].isUp,
      sysFilters: () => this.subs.sysFilters,
      ready: () => this.phase === Phase.Ready,
      sendPacket: (packet) => this.sendPacket(packet),
    });
    this.client = new ClientSocket(socket, this, () => clock.now());
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
    this.client.write(frame);
  }

  sendUpstream(upstream: Upstream, frame: Buffer): void {
    this.links[upstream].send(frame);
  }

  // ---- client side (ClientSocketListener) -----------------------------------------------------
  onClientMalformed(message: string): void {
    this.protocolError(message);
  }

  onClientGone(): void {
    this.close(false);
  }

  onClientFrame(frame: Buffer): void {
    if (this.phase === Phase.Ready) return this.dispatchClient(frame);
    if (this.phase === Phase.Merging) {
      if (this.auth && frameType(frame) === PacketType.Auth) return this.onClientAuth(frame);
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
        return this.pings.request();
      case PacketType.Subscribe: {
        const local = this.subs.subscribe(parseWhole(this.parser, frame) as ISubscribePacket);
        if (local.length > 0) this.sys.sendState(local);
        return;
      }
      case PacketType.Unsubscribe:
        return this.subs.unsubscribe(parseWhole(this.parser, frame) as IUnsubscribePacket);
      case PacketType.Disconnect:
        return this.onClientDisconnect(parseWhole(this.parser, frame) as IDisconnectPacket);
      case PacketType.Auth:
        return this.onClientReauth(frame);
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
    const id = chooseClientId(packet, this.v5);
    if ('refuse' in id) return this.refuse(id.refuse);
    this.clientId = id.clientId;
    this.assignedClientId = id.assigned;
    const method = this.v5 ? packet.properties?.authenticationMethod : undefined;
    if (method !== undefined) this.auth = this.newAuthRelay(method);
    const upstreamConnect = upstreamConnectOf(packet, this.clientId, this.v5);
    if (packet.keepalive) {
      // [MQTT-3.1.2-24] 1.5 × the client's keep-alive without a packet: the connection is gone.
      const ms = packet.keepalive * 1000;
      this.keepAliveTimer = setInterval(() => {
        if (clock.now() - this.client.lastRx > ms * 1.5) this.close(false);
      }, ms / 2);
    }
    this.phase = Phase.Merging;
    this.connectMerge = new PendingMerge(ALL_UPSTREAMS, clock, options.mergeWaitMs, options.connectTimeoutMs);
    this.links[0].start(upstreamConnect);
    this.links[1].start(upstreamConnect);
    this.armConnectTimer();
  }

  private newAuthRelay(method: string): AuthRelay {
    const auth = (data: Buffer | undefined): IAuthPacket => ({
      cmd: 'auth',
      reasonCode: ReasonCode.ContinueAuthentication,
      properties:
        data === undefined
          ? { authenticationMethod: method }
          : { authenticationMethod: method, authenticationData: data },
    });
    return new AuthRelay(method, {
      toClient: (data) => {
        this.connectMerge?.extend(this.deps.options.connectTimeoutMs);
        this.sendPacket(auth(data));
        this.armConnectTimer();
      },
      toBroker: (u, data) => this.links[u].sendAuth(auth(data)),
      cannotAnswer: (u, why) => this.giveUpUpstream(u, `enhanced authentication: ${why}`),
    });
  }

  /** The client answers a challenge (AUTH 0x18 before its CONNACK). */
  private onClientAuth(frame: Buffer): void {
    const packet = parseWhole(this.parser, frame) as IAuthPacket | undefined;
    const fits =
      packet?.reasonCode === ReasonCode.ContinueAuthentication &&
      packet.properties?.authenticationMethod === this.auth!.method; // [MQTT-4.12.0-5]
    if (!fits || !this.auth!.answer(packet.properties?.authenticationData)) {
      this.deps.logger?.warn({ clientId: this.clientId }, 'client AUTH out of turn');
      return this.refuse(ReasonCode.ProtocolError);
    }
    this.connectMerge?.extend(this.deps.options.connectTimeoutMs);
    this.armConnectTimer();
  }

  /**
   * AUTH after the CONNACK: 0x19 starts a re-authentication, relayed to every broker whose link is up
   * (the client's frame as it came); 0x18 answers its challenge (auth-relay.ts, Reauthentication).
   */
  private onClientReauth(frame: Buffer): void {
    const packet = parseWhole(this.parser, frame) as IAuthPacket | undefined;
    const method = this.auth?.method;
    // [MQTT-4.12.0-5] the method stays the CONNECT's (no method at CONNECT: no AUTH at all)
    if (!packet || method === undefined || packet.properties?.authenticationMethod !== method)
      return this.protocolError('AUTH without the authentication method of the CONNECT');
    const data = packet.properties?.authenticationData;
    if (packet.reasonCode === ReasonCode.ReAuthenticate) {
      if (this.reauth && !this.reauth.done) return this.protocolError('AUTH 0x19 during a re-authentication');
      const asked = ALL_UPSTREAMS.filter((u) => this.links[u].isUp);
      if (asked.length === 0)
        return this.protocolError('re-authentication with no broker up', ReasonCode.UnspecifiedError);
      this.reauth = this.newReauth(method, asked, data);
      for (const u of asked) this.links[u].send(frame);
      return;
    }
    if (packet.reasonCode === ReasonCode.ContinueAuthentication && this.reauth?.answer(data)) return;
    this.protocolError('client AUTH out of turn');
  }

  private newReauth(method: string, asked: Upstream[], clientData: Buffer | undefined): Reauthentication {
    const auth = (reasonCode: number, data: Buffer | undefined): IAuthPacket => ({
      cmd: 'auth',
      reasonCode,
      properties:
        data === undefined
          ? { authenticationMethod: method }
          : { authenticationMethod: method, authenticationData: data },
    });
    const reauth: Reauthentication = new Reauthentication(method, asked, {
      toClient: (data) => this.sendPacket(auth(ReasonCode.ContinueAuthentication, data)),
      toBroker: (u, data) => this.links[u].sendPacket(auth(ReasonCode.ContinueAuthentication, data)),
      cannotAnswer: (u, why) => this.giveUpUpstream(u, `re-authentication: ${why}`),
      succeeded: (data) => {
        this.sendPacket(auth(ReasonCode.Success, data));
        // links that reconnect later start from the new data and are answered from this conversation
        this.auth = reauth.relay;
        for (const link of this.links) link.setAuthenticationData(clientData);
      },
      failed: (reasonCode) => {
        this.deps.logger?.info({ clientId: this.clientId, reasonCode }, 'client re-authentication refused');
        if (this.phase === Phase.Ready) this.sendPacket({ cmd: 'disconnect', reasonCode });
        this.close(false);
      },
    });
    return reauth;
  }

  /** A broker's AUTH after its CONNACK: a step of the client's re-authentication, or out of turn. */
  private onBrokerReauth(upstream: Upstream, frame: Buffer): void {
    const packet = parseWhole(this.parser, frame) as IAuthPacket | undefined;
    const reauth = this.reauth;
    if (
      !packet ||
      !reauth?.waitsFor(upstream) ||
      packet.properties?.authenticationMethod !== this.auth?.method
    )
      return this.giveUpUpstream(upstream, 'unexpected AUTH from the broker');
    const data = packet.properties?.authenticationData;
    if (packet.reasonCode === ReasonCode.ContinueAuthentication) return reauth.challenge(upstream, data);
    if (packet.reasonCode === ReasonCode.Success) return reauth.success(upstream, data);
    this.giveUpUpstream(upstream, 'unexpected AUTH reason from the broker');
  }

  /**
   * A broker this session cannot use (it asks what the client was not asked): its link is closed
   * for good and the client goes on with the other broker alone.
   */
  private giveUpUpstream(u: Upstream, why: string): void {
    this.deps.logger?.warn(
      { clientId: this.clientId, upstream: UPSTREAM_NAMES[u], why },
      'upstream given up',
    );
    this.links[u].close(false);
    if (this.connectMerge) {
      this.connectMerge.lost(u);
      this.checkConnectMerge();
    }
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
    const assigned = this.assignedClientId ? this.clientId : undefined;
    offerToClient(connack, this.v5, this.deps.options.maxInflight, assigned);
    if (this.auth) {
      // the CONNACK names the method; its data is the driving broker's last word
      const driver = this.auth.driver ?? accepted[0]!;
      const data = merge.replies[driver]?.properties?.authenticationData;
      connack.properties!.authenticationMethod = this.auth.method;
      if (data !== undefined) connack.properties!.authenticationData = data;
      this.auth.finish();
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
    this.sendPacket(refusal(code, this.v5));
    this.close(false);
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
    this.auth?.concluded(upstream);
    if (this.phase === Phase.Merging && this.connectMerge) {
      this.connectMerge.reply(upstream, connack, accepted);
      this.checkConnectMerge();
    } else if (this.phase === Phase.Ready && accepted) this.linkUp(upstream, connack, false);
  }

  onAuth(upstream: Upstream, step: number, packet: IAuthPacket): void {
    const fits =
      this.auth !== undefined &&
      packet.reasonCode === ReasonCode.ContinueAuthentication &&
      packet.properties?.authenticationMethod === this.auth.method;
    if (!fits) return this.giveUpUpstream(upstream, 'unexpected AUTH from the broker');
    this.auth!.challenge(upstream, step, packet.properties?.authenticationData);
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
    this.sys.upstream(upstream, 'up');
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
        if (this.client.paused) this.applyBackpressure();
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
        if (this.pings.waiting) this.pings.answer();
        return;
      case PacketType.Auth:
        if (this.phase === Phase.Ready) this.onBrokerReauth(upstream, frame);
        return;
      default:
        return; // anything else from a broker: not forwarded
    }
  }

  onDrain(): void {
    if (this.client.paused) this.applyBackpressure();
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
    if (full) this.client.pause();
    else this.client.resume();
  }

  onDown(upstream: Upstream, cause: string, wasUp: boolean): void {
    if (this.phase === Phase.Closed) return;
    // a broker that ends the link during a re-authentication refused it (its DISCONNECT's reason)
    if (this.reauth?.waitsFor(upstream)) {
      this.reauth.failure(upstream, disconnectReason(cause) ?? ReasonCode.UnspecifiedError);
      if ((this.phase as Phase) === Phase.Closed) return; // the driver refused: the client is gone
    }
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
    this.sys.upstream(upstream, 'down');
    if (this.pings.waiting && !this.links[0].isUp && !this.links[1].isUp) this.pings.answer();
  }

  private applyTransition(t: Transition): void {
    this.toBrokers.setActive(t.to);
    if (this.client.paused) this.applyBackpressure();
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
    this.sys.transition(t);
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
    this.pings.close();
    for (const t of this.qos2Timers) clearTimeout(t);
    this.subs.close();
    if (wasReady) this.deps.counters.clientsConnected--;
    this.client.end(graceful);
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
