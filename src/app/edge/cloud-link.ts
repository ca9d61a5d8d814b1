// The edge's link to the cloud broker: gateway uplinks (and optionally decoded telemetry) seen on the
// local broker go up through the forward queue, strictly in order, one acknowledged QoS 1 publish at a
// time; the cloud platform's downlinks come back down to the local broker. Resent uplinks are harmless:
// the cloud platform applies each (gateway, epoch, seq) once.
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { ALL_DEVICES_TELEMETRY_FILTER, ALL_GATEWAYS_UP_FILTER } from '../../protocol/gateway-topics.ts';
import type { LocalBroker } from '../broker-attach.ts';
import { ForwardQueue } from './forward-queue.ts';
import { setTimeout as delay } from 'node:timers/promises';

export const ALL_GATEWAYS_DOWN_FILTER = 'mqiot/gw/+/down';
export const EDGE_CLIENT_ID = 'mqiot-edge-link';

export interface CloudLinkOptions {
  cloudUrl: string;
  /** Client id at the cloud broker (persistent session, so downlinks wait for the edge). */
  clientId: string;
  username?: string;
  password?: string;
  queuePath: string;
  queueMax?: number;
  /** Also forward the decoded readings (mqiot/dev/+/telemetry) for cloud-side subscribers. */
  forwardTelemetry?: boolean;
  reconnectMs?: number;
  /**
   * Run after each (re)connect before the queue drains (at most `beforePumpMs`, default 10 s): the edge
   * reports the rule firings it acted on during the outage, so the cloud knows them before it sees the
   * queued readings that caused them. A failure or a timeout is logged and the queue drains anyway.
   */
  beforePump?: () => Promise<unknown>;
  beforePumpMs?: number;
  logger?: Logger;
}

/** How long a closing link waits for the cloud to take its DISCONNECT and the message in flight. */
const CLOSE_GRACE_MS = 2000;

export class CloudLink {
  readonly queue: ForwardQueue;
  #client: MqttClient | undefined;
  #local: ReturnType<LocalBroker['createLocalClient']> | undefined;
  #pumping = false;
  #closed = false;
  /** False from a (re)connect until `beforePump` is done: the queue waits meanwhile. */
  #ready = false;
  forwarded = 0;

  constructor(
    private readonly broker: LocalBroker,
    private readonly options: CloudLinkOptions,
  ) {
    this.queue = new ForwardQueue(options.queuePath, options.queueMax);
  }

  start(): void {
    const { options } = this;
    this.#local = this.broker.createLocalClient(EDGE_CLIENT_ID);
    const enqueue = (msg: { topic: string; payload: Buffer }) => {
      this.queue.push(msg.topic, msg.payload);
      void this.#pump();
    };
    this.#local.subscribe(ALL_GATEWAYS_UP_FILTER, { qos: 1 }, enqueue);
    if (options.forwardTelemetry) this.#local.subscribe(ALL_DEVICES_TELEMETRY_FILTER, { qos: 1 }, enqueue);

    const client = mqtt.connect(options.cloudUrl, {
      protocolVersion: 5,
      clientId: options.clientId,
      username: options.username,
      password: options.password,
      clean: false,
      properties: { sessionExpiryInterval: 86_400 },
      reconnectPeriod: options.reconnectMs ?? 1000,
    });
    this.#client = client;
    client.on('connect', () => {
      options.logger?.info({ cloud: options.cloudUrl, queued: this.queue.depth }, 'cloud link up');
      client.subscribe(ALL_GATEWAYS_DOWN_FILTER, { qos: 1 });
      void this.#prepare().then(() => this.#pump());
    });
    client.on('close', () => {
      this.#ready = false;
      options.logger?.warn({ queued: this.queue.depth }, 'cloud link down; queueing');
    });
    client.on('error', (err) => options.logger?.warn({ err }, 'cloud link error'));
    client.on('message', (topic, payload, packet) => {
      // a downlink still arriving while the link closes has nowhere to go: the cloud keeps it queued
      if (this.#closed) return;
      this.#local?.publish(topic, payload, { qos: Math.min(packet.qos, 1) as 0 | 1 });
    });
  }

  /** True while the link to the cloud broker is up (rules copied from the cloud stand by then). */
  get connected(): boolean {
    return this.#client?.connected === true;
  }

  async #prepare(): Promise<void> {
    const { beforePump, beforePumpMs, logger } = this.options;
    if (beforePump) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise((resolve) => (timer = setTimeout(resolve, beforePumpMs ?? 10_000)));
      try {
        await Promise.race([beforePump(), timeout]);
      } catch (err) {
        logger?.warn({ err: (err as Error).message }, 'before draining the queue: failed; draining anyway');
      } finally {
        clearTimeout(timer);
      }
    }
    this.#ready = this.#client?.connected === true;
  }

  /** Publishes queued messages in order, each after the previous one was acknowledged. */
  async #pump(): Promise<void> {
    if (this.#pumping || !this.#ready) return;
    this.#pumping = true;
    try {
      while (!this.#closed && this.#client?.connected) {
        const [next] = this.queue.peek(1);
        if (!next) break;
        try {
          await this.#client.publishAsync(next.topic, Buffer.from(next.payload), { qos: 1 });
        } catch (err) {
          this.options.logger?.warn({ err }, 'forward failed; will retry after reconnect');
          break;
        }
        this.queue.remove(next.id);
        this.forwarded++;
      }
    } finally {
      this.#pumping = false;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    // the cloud side first: nothing comes in for a local client that is already closed
    // while the cloud is unreachable the client is reconnecting: a graceful end would wait for it
    // and a graceful end also waits for the PUBACK of the message in flight, which never comes when the
    // cloud went away at that moment: after a grace period the end is forced (the message stays queued)
    const client = this.#client;
    if (client) {
      const grace = new AbortController();
      await Promise.race([
        client.endAsync(!client.connected),
        delay(CLOSE_GRACE_MS, undefined, { signal: grace.signal }).then(
          () => client.endAsync(true),
          () => undefined,
        ),
      ]);
      grace.abort();
    }
    this.#local?.close();
    this.queue.close();
  }
}
