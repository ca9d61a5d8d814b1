// Attaches the platform to an external MQTT 5 broker (`mqiot cloud --broker URL`): any conformant broker,
// e.g. EMQX, Mosquitto or our broker pair behind the access module. Several platform instances share the
// uplinks through an MQTT 5 shared subscription (`$share/{group}/mqiot/gw/+/up`); no home-made clustering.
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { ALL_GATEWAYS_UP_FILTER } from '../protocol/gateway-topics.ts';
import type { Platform } from '../platform/platform.ts';
import { UplinkRejected } from '../platform/ingest/uplink-processor.ts';
import { relayLiveUpdates } from './live-relay.ts';
import { endClient } from '../protocol/mqtt-end.ts';

export interface MqttAttachOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  /** Shared subscription group; omit for a single instance. */
  shareGroup?: string;
  /**
   * Seconds the broker keeps this instance's session (and the uplinks queued in it) while it is away.
   * 0 (the default): none — a dead instance's share is not parked at the broker; gateways that ask for
   * data acks resend what no instance stored (docs/architecture.md "Several instances").
   */
  sessionExpiry?: number;
  logger?: Logger;
}

export const DEFAULT_PLATFORM_SESSION_EXPIRY_S = 0;

export function uplinkFilter(shareGroup?: string): string {
  return shareGroup ? `$share/${shareGroup}/${ALL_GATEWAYS_UP_FILTER}` : ALL_GATEWAYS_UP_FILTER;
}

export async function attachToMqtt(
  platform: Platform,
  options: MqttAttachOptions,
): Promise<{ client: MqttClient; detach(): Promise<void> }> {
  const sessionExpiry = options.sessionExpiry ?? DEFAULT_PLATFORM_SESSION_EXPIRY_S;
  const client = mqtt.connect(options.url, {
    protocolVersion: 5,
    clientId: options.clientId,
    username: options.username,
    password: options.password,
    // By default no session outlives the connection: on Mosquitto a shared-subscription member's session
    // keeps its share of the uplinks queued for as long as it is away, so one dead instance would stall
    // half of every gateway's data. With `sessionExpiry` > 0 uplinks wait at the broker instead (for
    // gateways that do not ask for data acks).
    clean: sessionExpiry === 0,
    properties: { sessionExpiryInterval: sessionExpiry },
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
        // without a session the broker would not resend it anyway: acknowledged, no data-ack goes out,
        // and the gateway sends it again (a gateway that does not ask for data acks loses it)
        if (sessionExpiry === 0) {
          options.logger?.warn({ err }, 'uplink not stored; the gateway resends it when no data-ack comes');
          return callback();
        }
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
  // live views show what every instance sharing the broker processed (src/app/live-relay.ts)
  const stopLive = await relayLiveUpdates(platform, client, options.logger);
  options.logger?.info({ url: options.url, filter }, 'platform attached to MQTT broker');
  return {
    client,
    detach: () => {
      stopLive();
      return endClient(client);
    },
  };
}
