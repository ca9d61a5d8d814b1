import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type IClientPublishOptions, type MqttClient, type Packet } from 'mqtt';
import type { IPublishPacket, QoS } from 'mqtt-packet';
import { mergeSuback } from './ack-merge.ts';
import { Backoff } from './backoff.ts';
import { systemClock, type Clock } from './clock.ts';
import {
  DEFAULT_BACKOFF_BASE_MS,
  DEFAULT_BACKOFF_CAP_MS,
  DEFAULT_DEDUP_MAX_ENTRIES,
  DEFAULT_DEDUP_WINDOW_MS,
  DEFAULT_FAILBACK_HOLD_MS,
  DEFAULT_MERGE_WAIT_MS,
} from './config.ts';
import { AccessCounters } from './counters.ts';
import { DedupWindow } from './dedup.ts';
import { AccessConfigError, UpstreamError } from './errors.ts';
import { DownCause, FailoverController, UPSTREAM_NAMES, Upstream, type Transition } from './failover.ts';

/**
 * The access module's behaviour inside a Node process, for terminals that reach both brokers
 * themselves: two MQTT.js clients, PUBLISH to the active one (Broker1 first), unfinished QoS 1/2
 * messages re-published on the other when a link is lost, failback after a hold time, and messages
 * from both brokers delivered once. The same pure parts as the module (FailoverController,
 * DedupWindow, merges, Backoff) make the decisions.
 */
export interface DualBrokerClientOptions {
  readonly broker1: string;
  readonly broker2: string;
  /** MQTT.js options for both links (clientId, protocolVersion, keepalive, will, credentials ...). */
  readonly mqtt?: IClientOptions;
  /** Options for one link only (e.g. its own credentials or TLS). */
  readonly broker1Options?: IClientOptions;
  readonly broker2Options?: IClientOptions;
  readonly failbackHoldMs?: number;
  readonly mergeWaitMs?: number;
  readonly dedupWindowMs?: number;
  readonly dedupMaxEntries?: number;
  readonly backoffBaseMs?: number;
  readonly backoffCapMs?: number;
  /** Names used in events and `active` (default `broker1`, `broker2`), e.g. site names. */
  readonly names?: readonly [string, string];
  readonly clock?: Clock;
}

export type UpstreamName = (typeof UPSTREAM_NAMES)[number];

/** A broker as events name it: its name (`broker1` / `broker2`, or the one given) and its URL. */
export interface BrokerRef {
  readonly name: string;
  readonly url: string;
}

export interface DualBrokerClientEvents {
  /** `source`: the name of the broker it came from. */
  message: [topic: string, payload: Buffer, packet: IPublishPacket, source: string];
  /** A link to this broker is up (CONNACK accepted). */
  'broker-up': [broker: BrokerRef];
  /** The link to this broker is gone; `cause` as in the transitions (`socket-closed`, `keepalive-timeout` …). */
  'broker-down': [broker: BrokerRef, cause: string];
  /** PUBLISH now goes to this broker (null: to none); `transition` says why. */
  active: [broker: BrokerRef | null, transition: Transition];
  /** The same change in the failover controller's terms (upstream indexes); kept for existing callers. */
  transition: [transition: Transition];
  connect: [];
  error: [error: Error];
}

interface Flight {
  readonly topic: string;
  readonly payload: Buffer | string;
  readonly options: IClientPublishOptions;
  attempt: number;
  done: boolean;
  resolve(): void;
  reject(err: Error): void;
}

export class DualBrokerClient extends EventEmitter<DualBrokerClientEvents> {
  readonly clients: [MqttClient, MqttClient];
  readonly counters = new AccessCounters();
  readonly controller: FailoverController;
  private readonly dedup: DedupWindow;
  private readonly backoffs: [Backoff, Backoff];
  private readonly reconnectTimers: [NodeJS.Timeout | undefined, NodeJS.Timeout | undefined] = [
    undefined,
    undefined,
  ];
  private readonly downCause: [string, string] = [DownCause.SocketClosed, DownCause.SocketClosed];
  private readonly waiting: Flight[] = [];
  private failbackTimer: NodeJS.Timeout | undefined;
  private ended = false;
  private started = false;
  private readonly startingUp: [boolean, boolean] = [false, false];
  private startTimer: NodeJS.Timeout | undefined;
  private readonly clock: Clock;
  private readonly mergeWaitMs: number;
  /** The two brokers as the events name them. */
  readonly brokers: readonly [BrokerRef, BrokerRef];

  constructor(private readonly options: DualBrokerClientOptions) {
    super();
    if (typeof options.broker1 !== 'string') throw new AccessConfigError('broker1', 'must be a URL string');
    if (typeof options.broker2 !== 'string') throw new AccessConfigError('broker2', 'must be a URL string');
    this.clock = options.clock ?? systemClock;
    this.mergeWaitMs = options.mergeWaitMs ?? DEFAULT_MERGE_WAIT_MS;
    const names = options.names ?? UPSTREAM_NAMES;
    if (names.length !== 2 || names[0] === names[1] || !names.every((n) => typeof n === 'string' && n))
      throw new AccessConfigError('names', 'must be two different non-empty strings');
    this.brokers = [
      { name: names[0], url: redact(options.broker1) },
      { name: names[1], url: redact(options.broker2) },
    ];
    this.controller = new FailoverController(
      { failbackHoldMs: options.failbackHoldMs ?? DEFAULT_FAILBACK_HOLD_MS },
      this.clock,
    );
    this.dedup = new DedupWindow(
      {
        maxEntries: options.dedupMaxEntries ?? DEFAULT_DEDUP_MAX_ENTRIES,
        windowMs: options.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS,
      },
      this.clock,
    );
    const backoff = {
      baseMs: options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS,
      capMs: options.backoffCapMs ?? DEFAULT_BACKOFF_CAP_MS,
    };
    this.backoffs = [new Backoff(backoff), new Backoff(backoff)];
    const clientId = options.mqtt?.clientId ?? `mqiot-dual-${Math.random().toString(16).slice(2, 10)}`;
    const make = (url: string, own: IClientOptions | undefined) =>
      // Our own reconnect (decorrelated jitter) instead of MQTT.js's fixed period; one client id for both.
      mqtt.connect(url, { ...options.mqtt, ...own, clientId, reconnectPeriod: 0 });
    this.clients = [
      make(options.broker1, options.broker1Options),
      make(options.broker2, options.broker2Options),
    ];
    for (const u of [Upstream.Broker1, Upstream.Broker2]) this.wire(u);
  }

  static connectAsync(options: DualBrokerClientOptions, timeoutMs = 10_000): Promise<DualBrokerClient> {
    const client = new DualBrokerClient(options);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        client.end(true);
        reject(new UpstreamError('broker1+broker2', `no broker accepted within ${timeoutMs} ms`));
      }, timeoutMs);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve(client);
      });
    });
  }

  /** The name of the broker taking PUBLISH now, null when none is up. */
  get active(): string | null {
    const a = this.controller.active;
    return a === null ? null : this.brokers[a].name;
  }

  get connected(): boolean {
    return this.controller.active !== null;
  }

  /** Resolves when a broker acknowledged (QoS 1/2) or the packet was written (QoS 0). */
  publish(topic: string, payload: Buffer | string, options: IClientPublishOptions = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      const flight: Flight = { topic, payload, options, attempt: 0, done: false, resolve, reject };
      this.dispatch(flight);
    });
  }

  /** SUBSCRIBE on both; the answer merged as the module merges SUBACKs (docs/access.md). */
  async subscribe(
    filter: string | string[],
    options: { qos: QoS } = { qos: 0 },
  ): Promise<{ topic: string; qos: number }[]> {
    const filters = Array.isArray(filter) ? filter : [filter];
    const replies = await this.both((c) =>
      c.subscribeAsync(filters, options).then((granted) => granted.map((g) => g.qos)),
    );
    const merged = mergeSuback(
      replies,
      filters.map(() => options.qos),
    );
    return filters.map((topic, i) => ({ topic, qos: merged[i]! }));
  }

  async unsubscribe(filter: string | string[]): Promise<void> {
    await this.both((c) => c.unsubscribeAsync(filter).then(() => [] as number[]));
  }

  /** Ends both links (force: without waiting for in-flight messages). Unfinished publishes are rejected. */
  async end(force = false): Promise<void> {
    this.ended = true;
    clearTimeout(this.failbackTimer);
    clearTimeout(this.startTimer);
    for (const t of this.reconnectTimers) clearTimeout(t);
    for (const f of this.waiting.splice(0)) f.reject(new UpstreamError('dual', 'client ended'));
    await Promise.all(this.clients.map((c) => c.endAsync(force)));
  }

  // ---- internals ------------------------------------------------------------------------------
  /** Runs an operation on the connected clients (queued by MQTT.js for the others); waits as the module does. */
  private both(
    op: (c: MqttClient) => Promise<number[]>,
  ): Promise<[number[] | undefined, number[] | undefined]> {
    const results: [number[] | undefined, number[] | undefined] = [undefined, undefined];
    const waits: Promise<void>[] = [];
    for (const u of [Upstream.Broker1, Upstream.Broker2]) {
      const p = op(this.clients[u]).then(
        (r) => void (results[u] = r),
        () => undefined,
      );
      if (this.controller.isUp(u)) waits.push(p);
    }
    if (waits.length === 0) return Promise.resolve(results);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(timer);
        resolve(results);
      };
      void Promise.all(waits).then(finish);
      // Once one answered, the other gets mergeWaitMs.
      void Promise.race(waits).then(() => (timer = setTimeout(finish, this.mergeWaitMs)));
    });
  }

  private wire(u: Upstream): void {
    const client = this.clients[u];
    client.on('connect', () => {
      this.backoffs[u].reset();
      this.counters.upstreamConnects[u]++;
      this.emit('broker-up', this.brokers[u]);
      if (this.started) return this.apply(this.controller.upstreamUp(u));
      // At start, as in the module: wait for both CONNACKs (at most mergeWaitMs after the first)
      // so that a Broker2 that answers first does not take the traffic until the failback.
      this.startingUp[u] = true;
      if (this.startingUp[0] && this.startingUp[1]) this.start();
      else this.startTimer ??= setTimeout(() => this.start(), this.mergeWaitMs);
    });
    client.on('disconnect', (packet: Packet) => {
      // The broker says it is going away (MQTT 5 DISCONNECT, e.g. 0x8B): switch now.
      const code = packet.cmd === 'disconnect' ? (packet.reasonCode ?? 0) : 0;
      this.downCause[u] = `${DownCause.ServerDisconnect}:0x${code.toString(16).padStart(2, '0')}`;
      this.linkDown(u);
    });
    client.on('error', (err) => {
      this.downCause[u] = /keepalive/i.test(err.message) ? DownCause.KeepAliveTimeout : DownCause.SocketError;
    });
    client.on('close', () => this.linkDown(u));
    client.on('message', (topic, payload, packet) => {
      if (!this.dedup.accept(fingerprint(topic, payload), u)) {
        this.counters.duplicatesDropped++;
        return;
      }
      this.counters.delivered[u]++;
      this.emit('message', topic, payload, packet, this.brokers[u].name);
    });
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    clearTimeout(this.startTimer);
    for (const u of [Upstream.Broker1, Upstream.Broker2]) {
      if (this.startingUp[u] && this.clients[u].connected) this.apply(this.controller.upstreamUp(u));
    }
    if (this.controller.active !== null) this.emit('connect');
  }

  private linkDown(u: Upstream): void {
    const wasUp = this.controller.isUp(u) || this.startingUp[u];
    if (!this.started) {
      this.startingUp[u] = false;
      // The other link already answered: no reason to wait for this one.
      if (this.startingUp[1 - u]) this.start();
    }
    const cause = this.downCause[u];
    this.downCause[u] = DownCause.SocketClosed;
    if (wasUp) this.emit('broker-down', this.brokers[u], cause);
    if (this.controller.isUp(u)) {
      this.counters.upstreamDowns[u]++;
      this.apply(this.controller.upstreamDown(u, cause));
    }
    // Messages the lost link had not completed: their callbacks fail now, and they go to the active link.
    const client = this.clients[u];
    for (const id of Object.keys(client.outgoing)) client.removeOutgoingMessage(Number(id));
    if (!this.ended && this.reconnectTimers[u] === undefined) {
      this.reconnectTimers[u] = setTimeout(() => {
        this.reconnectTimers[u] = undefined;
        if (!this.ended) client.reconnect();
      }, this.backoffs[u].next());
    }
  }

  private apply(t: Transition | undefined): void {
    clearTimeout(this.failbackTimer);
    if (t) {
      this.counters.record({ ...t, clientId: this.clients[0].options.clientId ?? '' });
      this.emit('transition', t);
      this.emit('active', t.to === null ? null : this.brokers[t.to], t);
      if (t.to !== null) for (const f of this.waiting.splice(0)) this.dispatch(f);
    }
    const due = this.controller.nextDeadline();
    if (due !== undefined && !this.ended) {
      this.failbackTimer = setTimeout(
        () => this.apply(this.controller.tick()),
        Math.max(0, due - this.clock.now()) + 1,
      );
    }
  }

  private dispatch(flight: Flight): void {
    const u = this.controller.active;
    if (u === null) {
      if ((flight.options.qos ?? 0) === 0) {
        this.counters.droppedQos0++;
        flight.resolve(); // at most once: nobody to take it
      } else this.waiting.push(flight);
      return;
    }
    const attempt = ++flight.attempt;
    if (attempt > 1) this.counters.resent++;
    this.counters.published[u]++;
    this.clients[u].publish(flight.topic, flight.payload, flight.options, (err) => {
      if (flight.done || attempt !== flight.attempt) return;
      if (!err) {
        flight.done = true;
        if ((flight.options.qos ?? 0) > 0) this.counters.acknowledged[u]++;
        flight.resolve();
      } else if (typeof (err as { code?: unknown }).code === 'number') {
        flight.done = true; // the broker refused it (MQTT 5 reason code): a real answer, not a lost link
        flight.reject(err);
      } else if (this.ended) {
        flight.done = true;
        flight.reject(err);
      } else this.dispatch(flight); // the link went away: the active broker gets it
    });
  }
}

/** The URL without its password, for events and logs. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    throw new AccessConfigError('broker URL', `not a URL: ${url.replace(/:[^:@/]*@/, ':***@')}`);
  }
}

function fingerprint(topic: string, payload: Buffer): number {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  a = Math.imul(a ^ 0xff, 0x01000193);
  for (let i = 0; i < payload.length; i++) {
    a = Math.imul(a ^ payload[i]!, 0x01000193);
    b = Math.imul(b ^ payload[i]!, 0x5bd1e995);
  }
  b ^= payload.length;
  return (a >>> 0) * 0x100000 + ((b >>> 0) & 0xfffff);
}
