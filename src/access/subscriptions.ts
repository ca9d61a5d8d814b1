import type { ISubscribePacket, ISubscription, IUnsubscribePacket, Packet } from 'mqtt-packet';
import { ReasonCode } from '../protocol/reason-codes.ts';
import { PendingMerge, mergeSuback, mergeUnsuback } from './ack-merge.ts';
import type { Clock } from './clock.ts';
import { Upstream } from './failover.ts';
import { isLocalFilter } from './sys-topics.ts';
import { LAST_PUBLISH_ID } from './client-to-brokers.ts';

/** What the subscription bookkeeping needs from the session (tests can pass a fake). */
export interface SubscriptionPort {
  isUp(upstream: Upstream): boolean;
  sendUpstream(upstream: Upstream, packet: Packet): void;
  sendClient(packet: Packet): void;
}

export interface SubscriptionSyncOptions {
  readonly mergeWaitMs: number;
  readonly timeoutMs: number;
  readonly sysTopics: boolean;
}

type ControlReply = readonly number[];
interface ControlRequest {
  readonly kind: 'subscribe' | 'unsubscribe';
  readonly clientPacketId: number;
  readonly merge: PendingMerge<ControlReply>;
  /** Final codes per filter of the client's packet; forwarded positions filled on completion. */
  readonly codes: number[];
  readonly forwarded: number[];
  readonly filters: string[];
  readonly requested: number[];
  timer?: NodeJS.Timeout;
}

interface StoredSubscription {
  readonly subscription: ISubscription;
  readonly properties?: ISubscribePacket['properties'];
}

const ALL_UPSTREAMS = [Upstream.Broker1, Upstream.Broker2] as const;
const FIRST_CONTROL_ID = LAST_PUBLISH_ID + 1;

/**
 * A client's SUBSCRIBE / UNSUBSCRIBE on both brokers: forwards them to the brokers that are up,
 * merges the SUBACK / UNSUBACK (ack-merge.ts), keeps the client's subscriptions and gives them to a
 * broker that comes back without them. `$SYS/access/…` filters stay local.
 */
export class SubscriptionSync {
  readonly sysFilters = new Set<string>();
  v5 = false;
  private readonly pending = new Map<number, ControlRequest>();
  private controlCursor = FIRST_CONTROL_ID;
  private readonly subscriptions = new Map<string, StoredSubscription>();
  private readonly dirty: [boolean, boolean] = [false, false];
  private readonly pendingUnsubscribes: [Set<string>, Set<string>] = [new Set(), new Set()];

  constructor(
    private readonly port: SubscriptionPort,
    private readonly clock: Clock,
    private readonly options: SubscriptionSyncOptions,
  ) {}

  /** Returns the local `$SYS` filters of the packet (the session sends their current state). */
  subscribe(packet: ISubscribePacket): string[] {
    const codes: number[] = [];
    const forwarded: number[] = [];
    const local: string[] = [];
    packet.subscriptions.forEach((s, i) => {
      if (this.options.sysTopics && isLocalFilter(s.topic)) {
        this.sysFilters.add(s.topic);
        local.push(s.topic);
        codes.push(ReasonCode.GrantedQoS0);
      } else {
        forwarded.push(i);
        codes.push(s.qos);
        this.subscriptions.set(s.topic, { subscription: s, properties: packet.properties });
        for (const u of ALL_UPSTREAMS) this.pendingUnsubscribes[u].delete(s.topic);
      }
    });
    const subs = forwarded.map((i) => packet.subscriptions[i]!);
    const sent = this.sendControl(subs.length === 0 ? [] : ALL_UPSTREAMS, (messageId) => ({
      cmd: 'subscribe',
      messageId,
      subscriptions: subs,
      ...(packet.properties && { properties: packet.properties }),
    }));
    this.track(sent.id, {
      kind: 'subscribe',
      clientPacketId: packet.messageId ?? 0,
      merge: this.newMerge(sent.upstreams),
      codes,
      forwarded,
      filters: subs.map((s) => s.topic),
      requested: subs.map((s) => s.qos),
    });
    return local;
  }

  unsubscribe(packet: IUnsubscribePacket): void {
    const codes: number[] = [];
    const forwarded: number[] = [];
    packet.unsubscriptions.forEach((filter, i) => {
      if (this.sysFilters.delete(filter)) {
        codes.push(ReasonCode.Success);
        return;
      }
      forwarded.push(i);
      codes.push(this.subscriptions.delete(filter) ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted);
      for (const u of ALL_UPSTREAMS) if (!this.port.isUp(u)) this.pendingUnsubscribes[u].add(filter);
    });
    const filters = forwarded.map((i) => packet.unsubscriptions[i]!);
    const sent = this.sendControl(filters.length === 0 ? [] : ALL_UPSTREAMS, (messageId) => ({
      cmd: 'unsubscribe',
      messageId,
      unsubscriptions: filters,
      ...(packet.properties && { properties: packet.properties }),
    }));
    this.track(sent.id, {
      kind: 'unsubscribe',
      clientPacketId: packet.messageId ?? 0,
      merge: this.newMerge(sent.upstreams),
      codes,
      forwarded,
      filters,
      requested: [],
    });
  }

  /** SUBACK / UNSUBACK from a broker. */
  onReply(upstream: Upstream, packet: Packet): void {
    if ((packet.cmd !== 'suback' && packet.cmd !== 'unsuback') || packet.messageId === undefined) return;
    const request = this.pending.get(packet.messageId);
    if (request === undefined) return; // SUBACK of a re-sync after a reconnect
    const codes = (packet.granted ?? []) as number[];
    const ok = packet.cmd === 'unsuback' ? true : codes.some((c) => c < 0x80);
    request.merge.reply(upstream, codes, ok);
    this.check(packet.messageId, request);
  }

  /** A broker went down: pending answers stop waiting for it. */
  upstreamLost(upstream: Upstream): void {
    for (const [id, request] of this.pending) {
      if (request.merge.isWaitingFor(upstream)) {
        request.merge.lost(upstream);
        this.check(id, request);
      }
    }
  }

  /** A broker came back: give it the subscriptions it lacks. */
  resync(upstream: Upstream, sessionPresent: boolean): void {
    if (!sessionPresent || this.dirty[upstream]) {
      for (const { subscription, properties } of this.subscriptions.values()) {
        this.port.sendUpstream(upstream, {
          cmd: 'subscribe',
          messageId: this.nextControlId(),
          subscriptions: [subscription],
          ...(properties && { properties }),
        });
      }
    }
    const gone = this.pendingUnsubscribes[upstream];
    if (gone.size > 0 && sessionPresent) {
      this.port.sendUpstream(upstream, {
        cmd: 'unsubscribe',
        messageId: this.nextControlId(),
        unsubscriptions: [...gone],
      });
    }
    gone.clear();
    this.dirty[upstream] = false;
  }

  close(): void {
    for (const request of this.pending.values()) clearTimeout(request.timer);
    this.pending.clear();
  }

  private newMerge(upstreams: Upstream[]): PendingMerge<ControlReply> {
    return new PendingMerge(upstreams, this.clock, this.options.mergeWaitMs, this.options.timeoutMs);
  }

  /** Sends a control packet to the wanted upstreams that are up; the others are synced when they return. */
  private sendControl(
    wanted: readonly Upstream[],
    build: (id: number) => Packet,
  ): { id: number; upstreams: Upstream[] } {
    const upstreams: Upstream[] = [];
    let id = 0;
    for (const u of wanted) {
      if (!this.port.isUp(u)) {
        this.dirty[u] = true;
        continue;
      }
      if (id === 0) id = this.nextControlId();
      this.port.sendUpstream(u, build(id));
      upstreams.push(u);
    }
    return { id, upstreams };
  }

  private track(id: number, request: ControlRequest): void {
    if (id !== 0) this.pending.set(id, request);
    this.check(id, request);
  }

  private nextControlId(): number {
    for (let n = 0; n <= 65535 - FIRST_CONTROL_ID; n++) {
      this.controlCursor = this.controlCursor >= 65535 ? FIRST_CONTROL_ID : this.controlCursor + 1;
      if (!this.pending.has(this.controlCursor)) return this.controlCursor;
    }
    return this.controlCursor; // 536 requests outstanding at once: reuse (the oldest will time out)
  }

  private check(id: number, request: ControlRequest): void {
    clearTimeout(request.timer);
    if (!request.merge.isComplete()) {
      const delay = Math.max(0, request.merge.nextDeadline() - this.clock.now()) + 1;
      request.timer = setTimeout(() => this.check(id, request), delay);
      return;
    }
    if (id !== 0) this.pending.delete(id);
    const replies = request.merge.replies;
    if (request.kind === 'subscribe') {
      const merged = mergeSuback(replies, request.requested);
      merged.forEach((code, j) => {
        request.codes[request.forwarded[j]!] = code;
        if (code >= 0x80) this.subscriptions.delete(request.filters[j]!); // refused everywhere
      });
      this.port.sendClient({ cmd: 'suback', messageId: request.clientPacketId, granted: request.codes });
      return;
    }
    if (this.v5) {
      const merged = mergeUnsuback(replies, request.forwarded.length);
      const anyReply = replies[0] !== undefined || replies[1] !== undefined;
      if (anyReply) merged.forEach((code, j) => (request.codes[request.forwarded[j]!] = code));
    }
    this.port.sendClient({
      cmd: 'unsuback',
      messageId: request.clientPacketId,
      granted: this.v5 ? request.codes : [],
    });
  }
}
