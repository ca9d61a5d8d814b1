// Attaches the platform to an external MQTT 5 broker (`mqiot cloud --broker URL`): any conformant broker,
// e.g. EMQX, Mosquitto or our broker pair behind the access module. Several platform instances share the
// uplinks through an MQTT 5 shared subscription (`$share/{group}/mqiot/gw/+/up`); no home-made clustering.
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { ALL_GATEWAYS_UP_FILTER } from '../protocol/gateway-topics.ts';
import type { Platform } from '../platform/platform.ts';
import { UplinkRejected } from '../platform/ingest/uplink-processor.ts';

export interface MqttAttachOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  /** Shared subscription group; omit for a single instance. */
  shareGroup?: string;
  /** Seconds the broker keeps this instance's session (and its queued uplinks) while it is away. */
  sessionExpiry?: number;
  logger?: Logger;
}

export const DEFAULT_PLATFORM_SESSION_EXPIRY_S = 86_400;

export function uplinkFilter(shareGroup?: string): string {
  return shareGroup ? `$share/${shareGroup}/${ALL_GATEWAYS_UP_FILTER}` : ALL_GATEWAYS_UP_FILTER;
}

export async function attachToMqtt(
  platform: Platform,
  options: MqttAttachOptions,
): Promise<{ client: MqttClient; detach(): Promise<void> }> {
  const client = mqtt.connect(options.url, {
    protocolVersion: 5,
    clientId: options.clientId,
    username: options.username,
    password: options.password,
    // A persistent session: uplinks published while this instance restarts wait for it at the broker.
    clean: false,
    properties: { sessionExpiryInterval: options.sessionExpiry ?? DEFAULT_PLATFORM_SESSION_EXPIRY_S },
    reconnectPeriod: 1000,
  });
  // MQTT.js emits 'message' and then calls handleMessage; it sends the PUBACK when handleMessage calls
  // back: only once this uplink is stored, so a platform that crashes mid-way gets the message again
  // from the broker instead of losing it.
  let stored: Promise<void> | undefined;
  client.on('message', (topic, payload) => {
    stored = platform.handleUplink(topic, payload);
  });
  client.handleMessage = (_packet, callback) => {
    const done = stored;
    stored = undefined;
    if (!done) return callback();
    done.then(
      () => callback(),
      (err: unknown) => {
        // refused for good (counted and recorded by the platform): acknowledged, since the broker
        // would otherwise hand the same message to this shared session again and again
        if (err instanceof UplinkRejected) return callback();
        // not stored: no PUBACK; dropping the connection makes the broker resend it from the session
        options.logger?.warn({ err }, 'uplink not stored; reconnecting so the broker resends it');
        client.stream?.destroy();
        callback(err as Error);
      },
    );
  };
  client.on('error', (err) => options.logger?.warn({ err }, 'platform MQTT client error'));
  client.on('reconnect', () => options.logger?.info('platform MQTT client reconnecting'));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  const filter = uplinkFilter(options.shareGroup);
  const granted = await client.subscribeAsync(filter, { qos: 1 });
  if (granted.some((g) => g.qos > 2)) {
    client.end(true);
    throw new Error(`the broker refused the subscription to ${filter} (reason ${granted[0]?.qos})`);
  }
  platform.attach({
    publish: (topic, payload, { qos, expirySeconds }) => {
      const properties = expirySeconds ? { messageExpiryInterval: expirySeconds } : undefined;
      client.publish(topic, payload, { qos, ...(properties ? { properties } : {}) }, (err) => {
        if (err) options.logger?.warn({ err, topic }, 'platform publish failed');
      });
    },
  });
  options.logger?.info({ url: options.url, filter }, 'platform attached to MQTT broker');
  return {
    client,
    detach: () => client.endAsync(),
  };
}
