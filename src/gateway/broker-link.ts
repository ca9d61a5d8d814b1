// The gateway's MQTT connection (MQTT.js): persistent session, will on the uplink topic (refreshed before
// each reconnect so it names the birth of the connection it belongs to), downlink subscription, and
// failover across the configured broker URLs.
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { endClient } from '../protocol/mqtt-end.ts';
import { ReasonCode } from '../protocol/reason-codes.ts';
import type { GatewayConfig } from './config.ts';

export interface BrokerLinkEvents {
  /** CONNACK received and the downlink subscribed. */
  onConnect(sessionPresent: boolean): void;
  /** The connection is gone (MQTT.js reconnects by itself). */
  onClose(): void;
  onMessage(topic: string, payload: Buffer): void;
  onError(err: Error): void;
}

/** How long a clean stop waits for the broker before dropping the connection. */
export const DEFAULT_STOP_TIMEOUT_MS = 2000;

export class BrokerLink {
  private client: MqttClient | undefined;
  private connectedFlag = false;

  constructor(
    private readonly config: GatewayConfig['mqtt'],
    private readonly downTopic: string,
    private readonly upTopic: string,
    private readonly events: BrokerLinkEvents,
  ) {}

  get connected(): boolean {
    return this.connectedFlag;
  }

  start(will: Buffer): void {
    const [first, ...rest] = this.config.urls.map((u) => new URL(u));
    const servers = [first!, ...rest].map((u) => ({
      host: u.hostname,
      port: Number(u.port) || (u.protocol === 'mqtts:' ? 8883 : 1883),
      protocol: u.protocol.replace(':', '') as 'mqtt',
    }));
    const client = mqtt.connect(this.config.urls[0]!, {
      servers: servers.length > 1 ? servers : undefined,
      clientId: this.config.clientId,
      clean: false, // persistent session: downlink kept while we are away
      protocolVersion: this.config.protocolVersion,
      keepalive: this.config.keepalive,
      reconnectPeriod: this.config.reconnectMs,
      connectTimeout: 10_000,
      username: this.config.username,
      password: this.config.password,
      properties:
        this.config.protocolVersion === 5 ? { sessionExpiryInterval: this.config.sessionExpiry } : undefined,
      will: { topic: this.upTopic, payload: will, qos: 1, retain: false },
      resubscribe: true,
      queueQoSZero: false,
      ...tlsOptions(this.config.tls),
    });
    this.client = client;
    client.on('connect', (connack) => {
      client.subscribe(this.downTopic, { qos: 1 }, (err) => {
        if (err) {
          this.events.onError(err);
          return;
        }
        this.connectedFlag = true;
        this.events.onConnect(connack.sessionPresent);
      });
    });
    client.on('close', () => {
      const was = this.connectedFlag;
      this.connectedFlag = false;
      if (was) this.events.onClose();
    });
    client.on('message', (topic, payload) => this.events.onMessage(topic, payload));
    client.on('error', (err) => this.events.onError(err));
  }

  /** Replaces the will sent in the next CONNECT. */
  setWill(payload: Buffer): void {
    if (this.client) this.client.options.will = { topic: this.upTopic, payload, qos: 1, retain: false };
  }

  /**
   * Publishes on the uplink; `done` runs when the broker acknowledged it (QoS 1/2) or it was written
   * (QoS 0). A refusal (MQTT 5 PUBACK/PUBREC with a reason code >= 0x80) is a `PublishRejectedError`;
   * MQTT.js has then already freed the packet id and dropped the message from its own store, so it
   * will not resend it: the caller must.
   */
  publish(payload: Buffer, qos: 0 | 1 | 2, done: (err?: Error) => void): void {
    if (!this.client || !this.connectedFlag) return done(new Error('not connected'));
    this.client.publish(this.upTopic, payload, { qos, retain: false }, (err) => {
      if (!err) return done();
      const code = (err as { code?: unknown }).code;
      if (typeof code !== 'number') return done(err);
      // MQTT.js reports every reason code other than 0x00 and 0x10 as an error, but below 0x80 the
      // broker accepted the message (MQTT 5.0 §2.4: such codes indicate success)
      if (code < ReasonCode.UnspecifiedError) return done();
      done(new PublishRejectedError(code, { cause: err }));
    });
  }

  /**
   * Publishes `goodbye` (QoS 1) and disconnects cleanly; if the broker does not answer within
   * `timeoutMs` (it may have just gone away), the connection is dropped instead.
   */
  async stop(goodbye?: Buffer, timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<void> {
    const client = this.client;
    if (!client) return;
    const deadline = Date.now() + timeoutMs;
    if (goodbye && this.connectedFlag) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => client.publish(this.upTopic, goodbye, { qos: 1 }, () => resolve())),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(timer);
    }
    this.connectedFlag = false;
    // bounded by the same deadline; a broker that does not answer has its connection dropped (a plain
    // MQTT.js end could wait for ever, and a forced end after it would leave the socket open)
    await endClient(client, Math.max(0, deadline - Date.now()));
  }

  /** Drops the connection without DISCONNECT (tests: the broker sees a lost connection and sends the will). */
  async kill(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.connectedFlag = false;
    await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
  }
}

/** The broker refused a publish: MQTT 5 PUBACK/PUBREC with a reason code >= 0x80 (§3.4.2.1, §3.5.2.1). */
export class PublishRejectedError extends Error {
  constructor(
    readonly reasonCode: number,
    options?: { cause?: unknown },
  ) {
    super(`publish refused by the broker: reason code 0x${reasonCode.toString(16)}`, options);
    this.name = 'PublishRejectedError';
  }
}

export class GatewayTlsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GatewayTlsError';
  }
}

function tlsOptions(tls: GatewayConfig['mqtt']['tls']) {
  const read = (file: string | undefined, what: string) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new GatewayTlsError(`cannot read TLS ${what} ${file}: ${(err as Error).message}`, { cause: err });
    }
  };
  return {
    ca: read(tls.caFile, 'CA'),
    cert: read(tls.certFile, 'certificate'),
    key: read(tls.keyFile, 'key'),
    rejectUnauthorized: tls.rejectUnauthorized,
  };
}
