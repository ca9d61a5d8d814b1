// Live updates across instances (`mqiot cloud --broker`): each instance's live view (/api/stream) shows
// what every instance processed, through the broker the instances already share — no memory of one
// instance, no home-made clustering. Telemetry is on `mqiot/dev/{id}/telemetry` anyway; events and
// command changes go on `mqiot/platform/live/{event|command}`. Each instance subscribes with MQTT 5
// No Local, so the broker never hands an instance back what it published itself (it has delivered that
// to its listeners already), and the relayed notifications go only to live views, never to the rules.
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { PlatformNotification } from '../platform/events.ts';
import type { Platform } from '../platform/platform.ts';
import { ALL_DEVICES_TELEMETRY_FILTER, parseDeviceTelemetryTopic } from '../protocol/gateway-topics.ts';

export const LIVE_TOPIC_PREFIX = 'mqiot/platform/live/';
const LIVE_FILTER = `${LIVE_TOPIC_PREFIX}+`;

/** Starts relaying; returns the function that stops it. */
export async function relayLiveUpdates(
  platform: Platform,
  client: MqttClient,
  logger?: Logger,
): Promise<() => void> {
  const unsubscribe = platform.subscribe((n) => {
    // telemetry is published on the device's topic by the ingest path already
    if (n.type === 'telemetry') return;
    const body = n.type === 'event' ? n.event : n.record;
    client.publish(`${LIVE_TOPIC_PREFIX}${n.type}`, JSON.stringify(body), { qos: 0 });
  });
  const onMessage = (topic: string, payload: Buffer) => {
    const notification = parse(topic, payload);
    if (notification) platform.notifyRemote(notification);
  };
  client.on('message', onMessage);
  const filters = [ALL_DEVICES_TELEMETRY_FILTER, LIVE_FILTER];
  // QoS 0: a live view reads everything again after an interruption (docs/architecture.md)
  const granted = await client.subscribeAsync(filters, { qos: 0, nl: true });
  if (granted.some((g) => g.qos > 2))
    logger?.warn({ filters, granted }, 'live updates of other instances refused by the broker (its ACL)');
  return () => {
    unsubscribe();
    client.off('message', onMessage);
  };
}

function parse(topic: string, payload: Buffer): PlatformNotification | undefined {
  const kind = topic.startsWith(LIVE_TOPIC_PREFIX)
    ? topic.slice(LIVE_TOPIC_PREFIX.length)
    : parseDeviceTelemetryTopic(topic) !== undefined
      ? 'telemetry'
      : undefined;
  if (!kind) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined; // not ours: anyone allowed to publish there could send anything
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  if (kind === 'telemetry' && typeof b.dev === 'string')
    return {
      type: 'telemetry',
      message: b as unknown as Extract<PlatformNotification, { type: 'telemetry' }>['message'],
    };
  if (kind === 'event' && typeof b.kind === 'string')
    return {
      type: 'event',
      event: b as unknown as Extract<PlatformNotification, { type: 'event' }>['event'],
    };
  if (kind === 'command' && typeof b.id === 'string')
    return {
      type: 'command',
      record: b as unknown as Extract<PlatformNotification, { type: 'command' }>['record'],
    };
  return undefined;
}
