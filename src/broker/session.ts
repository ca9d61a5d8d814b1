/**
 * Session state that outlives a connection (MQTT 5.0 §4.1): subscriptions, outgoing QoS 1/2
 * messages in flight and queued, incoming QoS 2 packet ids awaiting PUBREL. The outgoing QoS flow
 * (packet ids, in-flight window, queue, redelivery) lives here; the connection only writes bytes.
 */
import type { OutgoingRecord } from './store/types.ts';
import type { Subscription } from './subscription.ts';
import type { TimerClock } from '../protocol/clock.ts';
import type { ClientInfo, Message, QoS, Will } from './types.ts';

/** What a session needs from whatever carries its messages (a network channel or a local client). */
export interface SessionLink {
  /** How many unacknowledged QoS 1/2 messages the receiver accepts (its Receive Maximum). */
  readonly sendQuota: number;
  /** True when QoS 0 messages should be dropped because the receiver's buffer is full. */
  isBackedUp(): boolean;
  /** Writes a PUBLISH; false when it could not be sent at all (too large for the receiver). */
  writePublish(
    message: Message,
    qos: QoS,
    retain: boolean,
    packetId: number,
    subscriptionIds: number[],
    dup: boolean,
  ): boolean;
  writePubrel(packetId: number): void;
  /**
   * Local clients only: the promise(s) returned by the handlers the last writePublish ran, so the
   * publisher's PUBACK/PUBREC waits for them; undefined when every handler returned synchronously.
   */
  takeResult?(): Promise<unknown> | undefined;
}

/** A publisher that can be told to stop reading while a session it feeds is congested. */
export interface Holdable {
  hold(): void;
  release(): void;
}

/**
 * Told when an outgoing record changes or goes away outside an acknowledgement (store write-through),
 * asked whether a message already queued may still go to the identity now holding the session, and
 * told when a message is dropped for a limit.
 */
export interface SessionObserver {
  outgoingChanged(session: Session, rec: OutgoingRecord): void;
  outgoingFinished(session: Session, rec: OutgoingRecord): void;
  mayDeliver(session: Session, message: Message): boolean;
  dropped(session: Session, why: DropReason): void;
}

/** Why a QoS 1/2 message was not taken by a session (docs/broker.md "Memory bounds"). */
export type DropReason = 'queue-count' | 'queue-bytes' | 'budget';

/** Counters the session reports to the broker's stats; queuedBytes + inflightBytes is the global budget's use. */
export interface SessionCounters {
  publishDropped: number;
  inflightMessages: number;
  queuedMessages: number;
  queuedBytes: number;
  inflightBytes: number;
}

/** The limits of BrokerOptions a session applies. */
export interface SessionLimits {
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  readonly maxInflightBytes: number;
  /** 0 = no global budget. */
  readonly maxQueuedBytesTotal: number;
  /** Queue QoS 0 messages for this session while it is offline (and persistent). */
  readonly queueQos0Messages: boolean;
}

/**
 * What all sessions of one broker share: held once and pointed to, not copied into five fields of
 * every session (an idle connection's session is one of the larger objects it holds).
 */
export interface SessionShared {
  readonly limits: SessionLimits;
  readonly counters: SessionCounters;
  readonly clock: TimerClock;
  /** How long publishers may be held for one session (BrokerOptions.slowSubscriberHoldMs); 0 = no limit. */
  readonly holdLimitMs: number;
  readonly observer: SessionObserver | undefined;
  /** Queue lengths at which a connected session holds its publishers, and lets them go again. */
  readonly highWater: number;
  readonly lowWater: number;
}

export function sessionShared(
  limits: SessionLimits,
  counters: SessionCounters,
  clock: TimerClock,
  holdLimitMs: number,
  observer: SessionObserver | undefined,
): SessionShared {
  const highWater = Math.max(1, Math.min(limits.maxQueuedMessages >> 1, 1000));
  return { limits, counters, clock, holdLimitMs, observer, highWater, lowWater: highWater >> 1 };
}

/** What a message costs while a session holds it: its payload and topic (the rest is small and fixed). */
export function messageBytes(m: Message): number {
  return m.payload.length + m.topic.length;
}

type Sub = Subscription<Session>;

export class Session {
  /**
   * Subscriptions by filter: the only one in place while there is one, a Map from the second on (an
   * empty Map costs ~200 bytes, more than the subscription; most devices subscribe to one filter).
   */
  private subs: Sub | Map<string, Sub> | undefined;
  /**
   * Outgoing QoS 1/2 in flight by packet id, in send order (Map keeps insertion order). Made on first
   * use, like the queue and the QoS 2 ids below: an idle connection holds none of them (an empty Map
   * or Set costs ~200 bytes, docs/broker.md "Memory per connection"); kept while connected, let go
   * when empty and offline.
   */
  private inflightMap: Map<number, OutgoingRecord> | undefined;
  /** Outgoing messages waiting for the in-flight window or for the client to come back. */
  private queue: OutgoingRecord[] = NO_RECORDS;
  private queueHead = 0;
  /** Incoming QoS 2 packet ids PUBREC'd and not yet released [MQTT-4.3.3-9]. */
  private qos2Ids: Set<number> | undefined;
  link: SessionLink | null = null;
  /** Who this session belongs to, as of its last connection (for BrokerHooks.authorizeDeliver). */
  client: ClientInfo | undefined = undefined;
  /** Saved in the store (its expiry was > 0 at some point). */
  stored = false;
  /** Will waiting for its delay or for the session to end [MQTT-3.1.3-9]. */
  pendingWill: Will | undefined;
  expiryTimer: unknown;
  willTimer: unknown;
  private nextPacketId = 1;
  private seq = 0;
  /** messageBytes of the queued records, and of the in-flight ones. */
  queuedBytes = 0;
  inflightBytes = 0;
  /**
   * Publishers held back because this connected session's queue passed its high-water mark:
   * rather than dropping acknowledged QoS 1/2 messages, the broker stops reading from the
   * connections that feed a slow subscriber until the queue drains to the low-water mark.
   */
  private blocked: Set<Holdable> | undefined;
  /** Runs while publishers are held; when it fires they go free (holdLimitMs). */
  private holdTimer: unknown;
  /** Held its publishers for holdLimitMs without draining: holds none until its queue drains. */
  private shedding = false;

  constructor(
    readonly clientId: string,
    /** Seconds; 0 = ends with the connection, 0xFFFFFFFF = never expires. */
    public expiryInterval: number,
    public protocolVersion: 3 | 4 | 5,
    private readonly shared: SessionShared,
    readonly isLocal = false,
  ) {}

  /** True while a connected client's queue is above the high-water mark, in messages or in bytes (half of maxQueuedBytes). */
  get congested(): boolean {
    return (
      this.link !== null &&
      !this.shedding &&
      (this.queuedCount >= this.shared.highWater || this.queuedBytes * 2 >= this.shared.limits.maxQueuedBytes)
    );
  }

  /** Holds `publisher` until this session's queue drains. */
  holdPublisher(publisher: Holdable): void {
    // a client feeding its own subscription must keep getting acks, or it could not drain itself
    if ((publisher as unknown) === this.link) return;
    const set = (this.blocked ??= new Set());
    if (set.has(publisher)) return;
    set.add(publisher);
    publisher.hold();
    const { holdLimitMs, clock } = this.shared;
    if (this.holdTimer === undefined && holdLimitMs > 0)
      this.holdTimer = clock.setTimeout(() => this.onHoldLimit(), holdLimitMs);
  }

  /** Still congested after holdLimitMs: a stuck subscriber must not stall its publishers for good. */
  private onHoldLimit(): void {
    this.holdTimer = undefined;
    this.shedding = true;
    this.releasePublishers();
  }

  private releasePublishers(): void {
    if (this.holdTimer !== undefined) {
      this.shared.clock.clearTimeout(this.holdTimer);
      this.holdTimer = undefined;
    }
    const set = this.blocked;
    if (set === undefined || set.size === 0) return;
    this.blocked = undefined;
    for (const p of set) p.release();
  }

  /** The connection went away: queued messages wait for the next one, publishers go free. */
  detach(): void {
    this.link = null;
    this.shedding = false;
    this.releasePublishers();
    // kept while connected (made again at every burst otherwise); an offline session keeps none empty
    if (this.queuedCount === 0) {
      this.queue = NO_RECORDS;
      this.queueHead = 0;
    }
    if (this.inflightMap?.size === 0) this.inflightMap = undefined;
    if (this.qos2Ids?.size === 0) this.qos2Ids = undefined;
  }

  /** Outgoing QoS 1/2 in flight by packet id (read only: the session alone changes it). */
  get inflight(): ReadonlyMap<number, OutgoingRecord> {
    return this.inflightMap ?? NO_INFLIGHT;
  }

  /** Incoming QoS 2 packet ids PUBREC'd and not yet released. */
  get incomingQoS2(): ReadonlySet<number> {
    return this.qos2Ids ?? NO_IDS;
  }

  addIncomingQoS2(packetId: number): void {
    (this.qos2Ids ??= new Set()).add(packetId);
  }

  /** PUBREL: the id is released; false when it was not awaiting release. */
  releaseIncomingQoS2(packetId: number): boolean {
    const ids = this.qos2Ids;
    if (ids === undefined || !ids.delete(packetId)) return false;
    // kept while connected: a publisher's next QoS 2 burst would make it again
    if (ids.size === 0 && this.link === null) this.qos2Ids = undefined;
    return true;
  }

  private setInflight(entry: OutgoingRecord): void {
    (this.inflightMap ??= new Map()).set(entry.packetId, entry);
  }

  private deleteInflight(packetId: number): boolean {
    const map = this.inflightMap;
    if (map === undefined || !map.delete(packetId)) return false;
    // kept while the client is connected and sending: the map is made again at every QoS 1 burst otherwise
    if (map.size === 0 && this.link === null) this.inflightMap = undefined;
    return true;
  }

  private pushQueue(entry: OutgoingRecord): void {
    if (this.queue === NO_RECORDS) this.queue = [];
    this.queue.push(entry);
  }

  // ---- subscriptions (the router keeps the topic tree in step) ----

  subscription(filter: string): Sub | undefined {
    const subs = this.subs;
    if (subs instanceof Map) return subs.get(filter);
    return subs?.filter === filter ? subs : undefined;
  }

  /** Adds a subscription, or replaces the one with the same filter. */
  putSubscription(sub: Sub): void {
    const subs = this.subs;
    if (subs instanceof Map) subs.set(sub.filter, sub);
    else if (subs === undefined || subs.filter === sub.filter) this.subs = sub;
    else
      this.subs = new Map([
        [subs.filter, subs],
        [sub.filter, sub],
      ]);
  }

  /** Removes the subscription with this filter; false when there was none. */
  removeSubscription(filter: string): boolean {
    const subs = this.subs;
    if (subs instanceof Map) {
      if (!subs.delete(filter)) return false;
      // back to one in place: a device that re-subscribed holds no Map for good
      if (subs.size === 1) this.subs = subs.values().next().value;
      else if (subs.size === 0) this.subs = undefined;
      return true;
    }
    if (subs?.filter !== filter) return false;
    this.subs = undefined;
    return true;
  }

  /** The subscriptions, in the order they were made (a copy: the caller may change them while walking it). */
  subscriptionList(): Sub[] {
    const subs = this.subs;
    if (subs instanceof Map) return [...subs.values()];
    return subs === undefined ? [] : [subs];
  }

  get subscriptionCount(): number {
    const subs = this.subs;
    return subs instanceof Map ? subs.size : subs === undefined ? 0 : 1;
  }

  clearSubscriptions(): void {
    this.subs = undefined;
  }

  get persistent(): boolean {
    return this.expiryInterval > 0;
  }

  get queuedCount(): number {
    return this.queue.length - this.queueHead;
  }

  /**
   * Delivers a routed message at the granted QoS. Returns the new outgoing record for QoS 1/2, and for
   * a QoS 0 message queued offline (so the caller can persist it for a persistent session), or undefined.
   */
  deliver(
    message: Message,
    qos: QoS,
    retain: boolean,
    subscriptionIds: number[] | undefined,
  ): OutgoingRecord | undefined {
    const link = this.link;
    if (this.isLocal) {
      // in-process subscribers take the message synchronously: nothing is in flight
      link?.writePublish(message, qos, retain, 0, subscriptionIds ?? EMPTY, false);
      return undefined;
    }
    if (qos === 0) {
      if (link === null) {
        // QoS 0 waits for an offline client only when asked to (queueQos0Messages), and only for a
        // session that outlives its connection; it then queues as QoS 1/2 does, below
        if (!this.shared.limits.queueQos0Messages || !this.persistent) return undefined;
      } else {
        if (link.isBackedUp()) {
          this.shared.counters.publishDropped++;
          return undefined;
        }
        link.writePublish(message, 0, retain, 0, subscriptionIds ?? EMPTY, false);
        return undefined;
      }
    }
    const size = messageBytes(message);
    const limits = this.shared.limits;
    const c = this.shared.counters;
    if (
      limits.maxQueuedBytesTotal > 0 &&
      c.queuedBytes + c.inflightBytes + size > limits.maxQueuedBytesTotal
    ) {
      return this.drop('budget');
    }
    const entry: OutgoingRecord = {
      seq: ++this.seq,
      state: 'queued',
      packetId: 0,
      message,
      qos,
      retain,
      subscriptionIds: subscriptionIds ?? EMPTY,
    };
    if (link !== null && this.queuedCount === 0 && this.windowHasRoom(link, size)) {
      this.sendEntry(link, entry, false);
      return entry;
    }
    if (this.queuedCount >= limits.maxQueuedMessages) return this.drop('queue-count');
    if (this.queuedBytes + size > limits.maxQueuedBytes) return this.drop('queue-bytes');
    this.pushQueue(entry);
    this.queuedBytes += size;
    c.queuedMessages++;
    c.queuedBytes += size;
    return entry;
  }

  /** A QoS 1/2 message this session cannot take: counted (publish/messages/dropped) and reported. */
  private drop(why: DropReason): undefined {
    this.shared.counters.publishDropped++;
    this.shared.observer?.dropped(this, why);
    return undefined;
  }

  /** The in-flight window has room for `size` more bytes: by count, and by bytes unless it is empty. */
  private windowHasRoom(link: SessionLink, size: number): boolean {
    const n = this.inflight.size;
    return (
      n < link.sendQuota && (n === 0 || this.inflightBytes + size <= this.shared.limits.maxInflightBytes)
    );
  }

  /** PUBACK / PUBCOMP: the exchange is finished. Returns the finished record. */
  complete(packetId: number, expectState: 'sent' | 'pubrel'): OutgoingRecord | undefined {
    const entry = this.inflight.get(packetId);
    if (entry === undefined || entry.state !== expectState) return undefined;
    this.deleteInflight(packetId);
    this.leftFlight(entry);
    this.drain();
    return entry;
  }

  /** PUBREC: the receiver has the message; release it [MQTT-4.3.3-4]. */
  received(packetId: number, failed: boolean): OutgoingRecord | undefined {
    const entry = this.inflight.get(packetId);
    if (entry === undefined || entry.qos !== 2) return undefined;
    if (failed) {
      // v5: PUBREC with a reason code ≥ 0x80 ends the exchange [MQTT-4.3.3-4]
      return this.complete(packetId, entry.state === 'pubrel' ? 'pubrel' : 'sent');
    }
    entry.state = 'pubrel';
    this.link?.writePubrel(packetId);
    return entry;
  }

  /** Sends queued messages while the in-flight window has room. */
  drain(): void {
    const link = this.link;
    if (link === null) return;
    while (this.queueHead < this.queue.length) {
      const entry = this.queue[this.queueHead]!;
      const size = messageBytes(entry.message);
      if (!this.windowHasRoom(link, size)) break;
      this.queue[this.queueHead++] = undefined as unknown as OutgoingRecord;
      this.queuedBytes -= size;
      this.shared.counters.queuedMessages--;
      this.shared.counters.queuedBytes -= size;
      // queued under an earlier check: the identity now holding the session must still be allowed it
      if (this.shared.observer !== undefined && !this.shared.observer.mayDeliver(this, entry.message)) {
        this.shared.observer.outgoingFinished(this, entry);
        continue;
      }
      if (entry.qos === 0) this.sendQos0(link, entry);
      else this.sendEntry(link, entry, true);
      if (this.link === null) break;
    }
    if (
      this.queuedCount <= this.shared.lowWater &&
      this.queuedBytes * 4 <= this.shared.limits.maxQueuedBytes
    ) {
      this.shedding = false;
      if (this.blocked !== undefined) this.releasePublishers();
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  /**
   * After a reconnect: resend everything in flight with DUP set [MQTT-4.4.0-1], then the queue. A
   * message the identity now holding the session may not read is dropped instead (as Mosquitto does
   * on reconnect); a PUBREL carries no message and always goes.
   */
  resume(link: SessionLink): void {
    this.link = link;
    const observer = this.shared.observer;
    for (const entry of this.inflight.values()) {
      if (entry.state === 'pubrel') link.writePubrel(entry.packetId);
      else if (observer !== undefined && !observer.mayDeliver(this, entry.message)) this.discard(entry);
      else if (!write(link, entry, true)) this.discard(entry);
    }
    this.drain();
  }

  /** Restores outgoing records loaded from a store (in seq order). */
  restoreOutgoing(records: OutgoingRecord[]): void {
    for (const r of records) {
      if (r.seq > this.seq) this.seq = r.seq;
      if (r.state === 'queued') {
        // restored whatever the limits: they were taken (and acknowledged) under them once
        const size = messageBytes(r.message);
        this.pushQueue(r);
        this.queuedBytes += size;
        this.shared.counters.queuedMessages++;
        this.shared.counters.queuedBytes += size;
      } else {
        this.setInflight(r);
        this.enteredFlight(r);
      }
    }
  }

  /** Drops all outgoing state (session discarded). */
  clearOutgoing(): void {
    this.shared.counters.inflightMessages -= this.inflight.size;
    this.shared.counters.queuedMessages -= this.queuedCount;
    this.shared.counters.inflightBytes -= this.inflightBytes;
    this.shared.counters.queuedBytes -= this.queuedBytes;
    this.inflightBytes = 0;
    this.queuedBytes = 0;
    this.inflightMap = undefined;
    this.queue = NO_RECORDS;
    this.queueHead = 0;
    this.qos2Ids = undefined;
    this.releasePublishers();
  }

  /** A QoS 0 message queued while offline: written once (unless expired), nothing to wait for. */
  private sendQos0(link: SessionLink, entry: OutgoingRecord): void {
    const exp = entry.message.expiresAt;
    if (exp === 0 || exp > this.shared.clock.now()) {
      link.writePublish(entry.message, 0, entry.retain, 0, entry.subscriptionIds, false);
    }
    this.shared.observer?.outgoingFinished(this, entry);
  }

  private sendEntry(link: SessionLink, entry: OutgoingRecord, fromQueue: boolean): void {
    const exp = entry.message.expiresAt;
    if (exp !== 0 && exp <= this.shared.clock.now()) {
      // [MQTT-3.3.2-5] an expired message is not delivered
      this.shared.observer?.outgoingFinished(this, entry);
      return;
    }
    entry.packetId = this.allocatePacketId();
    entry.state = 'sent';
    this.setInflight(entry);
    this.enteredFlight(entry);
    if (!write(link, entry, false)) {
      // too large for the client [MQTT-3.1.2-25]: discarded as if delivered
      this.discard(entry);
      return;
    }
    // a durable store must know the packet id, or a QoS 2 message could be delivered twice
    // (a record sent straight from deliver() is saved by the router in its final state)
    if (fromQueue) this.shared.observer?.outgoingChanged(this, entry);
  }

  private discard(entry: OutgoingRecord): void {
    if (this.deleteInflight(entry.packetId)) this.leftFlight(entry);
    this.shared.observer?.outgoingFinished(this, entry);
  }

  private enteredFlight(entry: OutgoingRecord): void {
    const size = messageBytes(entry.message);
    this.inflightBytes += size;
    this.shared.counters.inflightMessages++;
    this.shared.counters.inflightBytes += size;
  }

  private leftFlight(entry: OutgoingRecord): void {
    const size = messageBytes(entry.message);
    this.inflightBytes -= size;
    this.shared.counters.inflightMessages--;
    this.shared.counters.inflightBytes -= size;
  }

  /** Next free non-zero packet id [MQTT-2.2.1-3]. */
  private allocatePacketId(): number {
    for (;;) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 65535 ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
  }
}

const EMPTY: number[] = [];
/** Shared stand-ins for the per-session collections not made yet; never written to. */
const NO_RECORDS: OutgoingRecord[] = [];
const NO_INFLIGHT: ReadonlyMap<number, OutgoingRecord> = new Map();
const NO_IDS: ReadonlySet<number> = new Set();

function write(link: SessionLink, e: OutgoingRecord, dup: boolean): boolean {
  return link.writePublish(e.message, e.qos, e.retain, e.packetId, e.subscriptionIds, dup);
}
