// Topic names of the gateway ⇄ platform protocol (docs/protocol.md "Topics"). Two topics per gateway,
// as the protocol requires: the gateway publishes on `up` and subscribes to `down`.

export const TOPIC_ROOT = 'mqiot';

export const GatewayTopicKind = { Up: 'up', Down: 'down' } as const;
export type GatewayTopicKind = (typeof GatewayTopicKind)[keyof typeof GatewayTopicKind];

/** Filters the platform subscribes to (every gateway's uplink) and the contracts stage publishes under. */
export const ALL_GATEWAYS_UP_FILTER = `${TOPIC_ROOT}/gw/+/up`;
export const ALL_DEVICES_TELEMETRY_FILTER = `${TOPIC_ROOT}/dev/+/telemetry`;

export class TopicIdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TopicIdError';
  }
}

/** An id used as one topic level: non-empty, no `/`, no wildcards, no NUL. */
export function isValidTopicId(id: string): boolean {
  return id.length > 0 && id.length <= 128 && !/[/+#]/.test(id) && !id.includes('\u0000');
}

function checkId(what: string, id: string): string {
  if (!isValidTopicId(id))
    throw new TopicIdError(`${what} ${JSON.stringify(id)} cannot be a topic level (no '/', '+', '#', NUL)`);
  return id;
}

export function gatewayUpTopic(gatewayId: string): string {
  return `${TOPIC_ROOT}/gw/${checkId('gateway id', gatewayId)}/up`;
}

export function gatewayDownTopic(gatewayId: string): string {
  return `${TOPIC_ROOT}/gw/${checkId('gateway id', gatewayId)}/down`;
}

export function deviceTelemetryTopic(deviceId: string): string {
  return `${TOPIC_ROOT}/dev/${checkId('device id', deviceId)}/telemetry`;
}

export type ParsedTopic =
  | { kind: 'gw-up'; gatewayId: string }
  | { kind: 'gw-down'; gatewayId: string }
  | { kind: 'dev-telemetry'; deviceId: string };

/** Recognises one of the protocol's topics; undefined for any other topic. */
export function parseProtocolTopic(topic: string): ParsedTopic | undefined {
  const levels = topic.split('/');
  if (levels.length !== 4 || levels[0] !== TOPIC_ROOT) return undefined;
  const [, group, id, leaf] = levels as [string, string, string, string];
  if (!isValidTopicId(id)) return undefined;
  if (group === 'gw' && leaf === GatewayTopicKind.Up) return { kind: 'gw-up', gatewayId: id };
  if (group === 'gw' && leaf === GatewayTopicKind.Down) return { kind: 'gw-down', gatewayId: id };
  if (group === 'dev' && leaf === 'telemetry') return { kind: 'dev-telemetry', deviceId: id };
  return undefined;
}

/** The gateway id of an uplink topic, or undefined. */
export function parseGatewayUpTopic(topic: string): string | undefined {
  const parsed = parseProtocolTopic(topic);
  return parsed?.kind === 'gw-up' ? parsed.gatewayId : undefined;
}

/** The gateway id of a downlink topic, or undefined. */
export function parseGatewayDownTopic(topic: string): string | undefined {
  const parsed = parseProtocolTopic(topic);
  return parsed?.kind === 'gw-down' ? parsed.gatewayId : undefined;
}

/** The device id of a telemetry topic, or undefined. */
export function parseDeviceTelemetryTopic(topic: string): string | undefined {
  const parsed = parseProtocolTopic(topic);
  return parsed?.kind === 'dev-telemetry' ? parsed.deviceId : undefined;
}

/** Alarm events for other systems (docs/protocol.md "Alarms"): every alarm's transitions, JSON. */
export const ALL_ALARMS_FILTER = `${TOPIC_ROOT}/alarms/#`;

/** `mqiot/alarms/device/{id}` or `mqiot/alarms/gateway/{id}`. */
export function alarmTopic(originatorType: 'device' | 'gateway', originatorId: string): string {
  return `${TOPIC_ROOT}/alarms/${originatorType}/${checkId(`${originatorType} id`, originatorId)}`;
}
