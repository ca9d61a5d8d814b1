// A fake platform for gateway tests, speaking the envelope protocol over MQTT.js (brokers, ports, waits
// and temp dirs are in test/support).
import mqtt, { type MqttClient } from 'mqtt';
import {
  decodeEnvelope,
  encodeEnvelope,
  type DownlinkEnvelope,
  type Envelope,
  type UplinkEnvelope,
} from '../../src/protocol/envelope.ts';
import { gatewayDownTopic } from '../../src/protocol/gateway-topics.ts';

export interface PlatformOptions {
  /** Answer every birth with a heartbeat, and keep sending heartbeats at this period (ms). */
  heartbeatMs?: number;
  /** Acknowledge reports (default true). */
  ackReports?: boolean;
}

/** A stand-in for the platform: records uplink envelopes, sends downlink ones. */
export class FakePlatform {
  readonly received: UplinkEnvelope[] = [];
  private client!: MqttClient;
  private timer: NodeJS.Timeout | undefined;
  heartbeats = true;
  ackReports: boolean;

  constructor(
    private readonly url: string,
    private readonly gw: string,
    private readonly options: PlatformOptions = {},
  ) {
    this.ackReports = options.ackReports ?? true;
  }

  async start(): Promise<void> {
    this.client = mqtt.connect(this.url, { clientId: `platform-${Math.random()}`, reconnectPeriod: 100 });
    this.client.on('message', (_topic, payload) => this.onUp(payload));
    this.client.on('error', () => undefined);
    await new Promise<void>((resolve) => this.client.once('connect', () => resolve()));
    await this.client.subscribeAsync('mqiot/gw/+/up', { qos: 1 });
    this.client.on(
      'connect',
      () => void this.client.subscribeAsync('mqiot/gw/+/up', { qos: 1 }).catch(() => undefined),
    );
    if (this.options.heartbeatMs)
      this.timer = setInterval(() => {
        if (this.heartbeats) this.heartbeat();
      }, this.options.heartbeatMs);
  }

  private onUp(payload: Buffer): void {
    const msg = decodeEnvelope(payload) as UplinkEnvelope;
    this.received.push(msg);
    if (msg.k === 'birth' && this.heartbeats) this.heartbeat();
    if (msg.k === 'report' && this.ackReports)
      this.send({ v: 1, k: 'report-ack', gw: this.gw, ts: Date.now(), ack: msg.seq });
  }

  heartbeat(): void {
    this.send({ v: 1, k: 'heartbeat', gw: this.gw, ts: Date.now(), interval: this.options.heartbeatMs });
  }

  send(msg: DownlinkEnvelope): void {
    if (this.client.connected)
      this.client.publish(gatewayDownTopic(this.gw), encodeEnvelope(msg), { qos: 1 });
  }

  of<K extends Envelope['k']>(k: K): Extract<UplinkEnvelope, { k: K }>[] {
    return this.received.filter((m) => m.k === k) as Extract<UplinkEnvelope, { k: K }>[];
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.client.endAsync(true);
  }
}
