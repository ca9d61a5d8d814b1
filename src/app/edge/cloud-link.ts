// The edge's link to the cloud broker: gateway uplinks (and optionally decoded telemetry) seen on the
// local broker go up through the forward queue, strictly in order, one acknowledged QoS 1 publish at a
// time; the cloud platform's downlinks come back down to the local broker. A data group that asked for
// an acknowledgement stays queued after its PUBACK until the cloud's `data-ack` names it, and goes
// again, marked `re`, when that does not come in time (cloud-acks.ts). Resent uplinks are harmless:
// the cloud platform applies each (gateway, epoch, seq) once.
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { decodeEnvelope, encodeEnvelope, type Envelope } from '../../protocol/envelope.ts';
import { ALL_DEVICES_TELEMETRY_FILTER, ALL_GATEWAYS_UP_FILTER } from '../../protocol/gateway-topics.ts';
import type { LocalBroker } from '../broker-attach.ts';
import {
  ackKeyOf,
  CloudAcks,
  DEFAULT_CLOUD_ACK_MAX_MS,
  DEFAULT_CLOUD_ACK_TIMEOUT_MS,
  DEFAULT_MAX_AWAITING,
  parseCloudDownlink,
} from './cloud-acks.ts';
import { ForwardQueue, type QueuedMessage } from './forward-queue.ts';
import { endClient } from '../../protocol/mqtt-end.ts';

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
  /** First wait for a `data-ack` after the PUBACK (ms, default 5 s); doubles per resend up to `ackMaxMs`. */
  ackTimeoutMs?: number;
  /** Longest wait between two resends of one data group (ms, default 30 s). */
  ackMaxMs?: number;
  /** Data groups waiting for their `data-ack` at most; the ordered stream pauses meanwhile (10 000). */
  maxAwaiting?: number;
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
  /** Rows up to this id went out (in order) on the current connection; a new connection starts at 0. */
  #after = 0;
  /** Counts connections, so that a publish answered after a reconnect does not move the new cursor. */
  #connection = 0;
  readonly #acks: CloudAcks;
  /** Data groups of this run put on the wire once: a later send is marked `re`. */
  readonly #sentOnce = new Set<number>();
  #resendTimer: NodeJS.Timeout | undefined;
  /** Messages the cloud broker accepted in order (resends not counted). */
  forwarded = 0;
  /** Data groups a cloud `data-ack` named, so they left the queue. */
  acked = 0;
  /** Data groups sent again because their `data-ack` did not come in time. */
  resent = 0;

  constructor(
    private readonly broker: LocalBroker,
    private readonly options: CloudLinkOptions,
  ) {
    this.queue = new ForwardQueue(options.queuePath, options.queueMax);
    this.#acks = new CloudAcks({
      timeoutMs: options.ackTimeoutMs ?? DEFAULT_CLOUD_ACK_TIMEOUT_MS,
      maxMs: options.ackMaxMs ?? DEFAULT_CLOUD_ACK_MAX_MS,
      maxAwaiting: options.maxAwaiting ?? DEFAULT_MAX_AWAITING,
    });
  }

  /** Data groups the cloud broker accepted and no cloud `data-ack` has named yet. */
  get awaitingAck(): number {
    return this.#acks.pending;
  }

  start(): void {
    const { options } = this;
    this.#local = this.broker.createLocalClient(EDGE_CLIENT_ID);
    const enqueue = (msg: { topic: string; payload: Buffer }) => {
      const { dropped } = this.queue.push(msg.topic, msg.payload, ackKeyOf(msg.topic, msg.payload));
      if (dropped !== undefined) {
        this.#acks.forget([dropped]);
        this.#sentOnce.delete(dropped);
      }
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
      // everything still queued goes again, from the oldest, on the next connection
      this.#connection++;
      this.#after = 0;
      this.#acks.clear();
      clearTimeout(this.#resendTimer);
      options.logger?.warn({ queued: this.queue.depth }, 'cloud link down; queueing');
    });
    client.on('error', (err) => options.logger?.warn({ err }, 'cloud link error'));
    client.on('message', (topic, payload, packet) => {
      // a downlink still arriving while the link closes has nowhere to go: the cloud keeps it queued
      if (this.#closed) return;
      this.#onDownlink(topic, payload);
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

  /**
   * Publishes queued messages in order, each after the previous one was accepted; stops while as many
   * data groups as allowed wait for their `data-ack`.
   */
  async #pump(): Promise<void> {
    if (this.#pumping || !this.#ready) return;
    this.#pumping = true;
    try {
      while (!this.#closed && this.#ready && this.#client?.connected && !this.#acks.full) {
        const [next] = this.queue.peekAfter(this.#after, 1);
        if (!next) break;
        const connection = this.#connection;
        try {
          await this.#client.publishAsync(next.topic, this.#wirePayload(next), { qos: 1 });
        } catch (err) {
          this.options.logger?.warn({ err }, 'forward failed; will retry after reconnect');
          break;
        }
        if (this.#closed) break;
        // answered after a reconnect (the session resent it): the new connection sends from the oldest
        if (connection !== this.#connection) continue;
        this.#after = next.id;
        this.forwarded++;
        this.#accepted(next);
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** The cloud broker has this message: it leaves the queue, or waits there for its `data-ack`. */
  #accepted(row: QueuedMessage): void {
    if (row.ackGw === null || !this.#acks.waitsFor(row.ackGw)) {
      this.queue.remove(row.id);
      this.#sentOnce.delete(row.id);
      return;
    }
    // unless its data-ack came before the PUBACK
    if (!this.queue.has(row.id)) return;
    this.#acks.accepted(row.id, row.ackGw, Date.now());
    this.#armResend();
  }

  /** A downlink from the cloud: a `data-ack` releases queued groups, a heartbeat says whether acks come. */
  #onDownlink(topic: string, payload: Buffer): void {
    const downlink = parseCloudDownlink(topic, payload);
    if (downlink === undefined) return;
    const released =
      downlink.kind === 'data-ack'
        ? this.queue.removeAcked(downlink.gw, downlink.seqs)
        : this.#acks.heartbeat(downlink.gw, downlink.acks);
    if (released.length === 0) return;
    if (downlink.kind === 'data-ack') {
      this.#acks.forget(released);
      this.acked += released.length;
    } else {
      // an older cloud platform: the PUBACK these had is all there is
      for (const id of released) this.queue.remove(id);
      this.options.logger?.info(
        { gateway: downlink.gw, released: released.length },
        'the cloud does not acknowledge data groups: the PUBACK suffices',
      );
    }
    for (const id of released) this.#sentOnce.delete(id);
    this.#armResend();
    void this.#pump(); // room for the ordered stream again
  }

  #armResend(): void {
    clearTimeout(this.#resendTimer);
    const at = this.#acks.nextAt();
    if (at === undefined || this.#closed) return;
    this.#resendTimer = setTimeout(() => this.#resendDue(), Math.max(0, at - Date.now()));
    this.#resendTimer.unref();
  }

  /** Data groups whose `data-ack` did not come in time go again, outside the ordered stream. */
  #resendDue(): void {
    const client = this.#client;
    if (this.#closed || !client?.connected) return;
    const connection = this.#connection;
    for (const id of this.#acks.due(Date.now())) {
      const row = this.queue.get(id);
      if (!row || row.ackGw === null) {
        this.#acks.forget([id]);
        continue;
      }
      const gw = row.ackGw;
      this.resent++;
      client.publish(row.topic, this.#wirePayload(row), { qos: 1 }, (err) => {
        // accepted, or refused: wait again (longer); connection lost: the next connection resends it
        if (this.#closed || connection !== this.#connection || !this.queue.has(id)) return;
        if (err) this.options.logger?.warn({ err }, 'resend of a data group failed; waiting again');
        this.#acks.accepted(id, gw, Date.now());
        this.#armResend();
      });
    }
    this.#armResend();
  }

  /**
   * A data group that may have reached the cloud before (sent once by this run, or queued by an earlier
   * one) carries `re: true`, so the cloud checks its store instead of trusting its in-memory seq mark.
   */
  #wirePayload(row: QueuedMessage): Buffer {
    const payload = Buffer.from(row.payload);
    if (row.ackGw === null) return payload;
    const again = row.id < this.queue.firstIdOfRun || this.#sentOnce.has(row.id);
    this.#sentOnce.add(row.id);
    if (!again) return payload;
    return encodeEnvelope({ ...decodeEnvelope(payload), re: true } as Envelope);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#resendTimer);
    // the cloud side first: nothing comes in for a local client that is already closed. A message in
    // flight whose PUBACK never comes (the cloud went away at that moment) stays queued: the end is
    // forced after a grace period (src/protocol/mqtt-end.ts)
    if (this.#client) await endClient(this.#client, CLOSE_GRACE_MS);
    this.#local?.close();
    this.queue.close();
  }
}
