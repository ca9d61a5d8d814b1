// `$SYS/broker/...` topics (the names Mosquitto uses, so existing dashboards work): broker figures
// published as retained messages every `interval` seconds through `broker.publish`, the same path
// as any server-originated message. A figure is only republished when it changed (uptime always is).
import { systemClock, unrefTimer, type TimerClock } from '../protocol/clock.ts';
import type { BrokerStats } from './types.ts';

export interface SysTarget {
  readonly stats: BrokerStats;
  publish(message: { topic: string; payload: Buffer; qos?: 0; retain?: boolean }): void;
}

export interface SysOptions {
  /** Seconds between updates. */
  interval: number;
  /** Published once on `$SYS/broker/version`. */
  version: string;
  clock?: TimerClock;
}

export const SYS_PREFIX = '$SYS/broker/';

/** Topic (below `$SYS/broker/`) → how to read it from the stats. */
export const SYS_TOPICS: ReadonlyArray<readonly [string, (stats: BrokerStats, now: number) => number]> = [
  ['uptime', (s, now) => Math.floor((now - s.startedAt) / 1000)],
  ['clients/connected', (s) => s.clientsConnected],
  ['clients/total', (s) => s.clientsTotal],
  ['clients/maximum', (s) => s.clientsMaximum],
  // As in Mosquitto: messages/* counts every MQTT packet, publish/messages/* only PUBLISH.
  ['messages/received', (s) => s.packetsReceived],
  ['messages/sent', (s) => s.packetsSent],
  ['publish/messages/received', (s) => s.publishReceived],
  ['publish/messages/sent', (s) => s.publishSent],
  ['publish/messages/dropped', (s) => s.publishDropped],
  ['bytes/received', (s) => s.bytesReceived],
  ['bytes/sent', (s) => s.bytesSent],
  ['subscriptions/count', (s) => s.subscriptions],
  ['retained messages/count', (s) => s.retainedMessages],
  ['messages/inflight', (s) => s.inflightMessages],
  ['messages/queued', (s) => s.queuedMessages],
  // not in Mosquitto: what the byte limits (maxQueuedBytes, maxQueuedBytesTotal) are measured on
  ['messages/queued/bytes', (s) => s.queuedBytes],
  ['messages/inflight/bytes', (s) => s.inflightBytes],
];

export class SysPublisher {
  readonly #target: SysTarget;
  readonly #intervalMs: number;
  readonly #version: string;
  readonly #clock: TimerClock;
  readonly #last = new Map<string, string>();
  #timer: unknown;
  #running = false;

  constructor(target: SysTarget, options: SysOptions) {
    this.#target = target;
    this.#intervalMs = options.interval * 1000;
    this.#version = options.version;
    this.#clock = options.clock ?? systemClock;
  }

  /** Publishes everything now, then every interval. An interval of 0 means $SYS is off. */
  start(): void {
    if (this.#intervalMs <= 0 || this.#running) return;
    this.#running = true;
    this.#send('version', this.#version);
    this.#tick();
  }

  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Publishes the figures that changed since the last call. */
  publishNow(): void {
    const now = this.#clock.now();
    const stats = this.#target.stats;
    for (const [topic, read] of SYS_TOPICS) {
      const value = read(stats, now);
      if (typeof value === 'number' && Number.isFinite(value)) this.#send(topic, String(value));
    }
  }

  #tick = (): void => {
    if (!this.#running) return;
    this.publishNow();
    this.#timer = this.#clock.setTimeout(this.#tick, this.#intervalMs);
    unrefTimer(this.#timer);
  };

  #send(topic: string, value: string): void {
    if (this.#last.get(topic) === value) return;
    this.#last.set(topic, value);
    this.#target.publish({ topic: SYS_PREFIX + topic, payload: Buffer.from(value), qos: 0, retain: true });
  }
}
