// The platform's configuration: one typed object with DEFAULT_* values, validated once and frozen.
import {
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_QUERY_TIMEOUT_MS,
  MAX_TIMEOUTS,
} from './commands/command-manager.ts';
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from './online/heartbeat.ts';
import {
  DEFAULT_DEVICE_MISSED_POLLS,
  DEFAULT_DEVICE_POLL_MS,
  DEFAULT_GATEWAY_VALID_INTERVAL_MS,
} from './online/online-tracker.ts';
import { PlatformError, PlatformErrorCode } from './errors.ts';
import { DEFAULT_SEQ_WINDOW } from './gateways/seq-window.ts';

export const DEFAULT_TICK_MS = 1000;
export const DEFAULT_RETENTION_DAYS = 0; // 0 = keep readings forever
export const DEFAULT_MAX_INGEST_BATCH = 200; // data groups stored in one transaction
/** A failed uplink store write is retried this many times (backoff doubling from ingestRetryMs), then refused. */
export const DEFAULT_INGEST_RETRIES = 3;
export const DEFAULT_INGEST_RETRY_MS = 200;

/**
 * What happens to uplink from a gateway the registry does not know: `register` it (as active),
 * record it as `pending` and refuse its uplink until an operator activates it (the gateway keeps
 * its data), or `refuse` it without recording anything.
 */
export const UnknownGateways = { Register: 'register', Pending: 'pending', Refuse: 'refuse' } as const;
export type UnknownGateways = (typeof UnknownGateways)[keyof typeof UnknownGateways];

export interface PlatformConfig {
  heartbeatIntervalMs: number;
  commandTimeoutMs: number;
  queryTimeoutMs: number;
  maxTimeouts: number;
  gatewayValidIntervalMs: number;
  deviceMissedPolls: number;
  defaultDevicePollMs: number;
  /** How often silence (offline), heartbeats and retention are checked. */
  tickMs: number;
  retentionDays: number;
  maxIngestBatch: number;
  ingestRetries: number;
  ingestRetryMs: number;
  downlinkQos: 0 | 1 | 2;
  telemetryQos: 0 | 1 | 2;
  /** How far ahead of the dedup mark (or a trusted birth) a seq may jump (docs/protocol.md). */
  seqWindow: number;
  /**
   * Uplink for gateway X only from the broker identity `gw-X` (false: lab mode, where anonymous
   * clients may publish on gateway topics). Only the in-process broker reports identities.
   */
  requireGatewayIdentity: boolean;
  unknownGateways: UnknownGateways;
  /**
   * MQTT users trusted to publish for any gateway: the logins `mqiot edge` sites forward their gateways'
   * uplinks under. A relay can speak for every gateway, so list only edges you trust.
   */
  relayUsers: readonly string[];
  /** Create the built-in alarm rules (gateway/device offline, decode errors) at the first start. */
  builtinAlarms: boolean;
}

/** Fields that are not whole numbers, checked on their own. */
const NON_NUMERIC = new Set(['requireGatewayIdentity', 'unknownGateways', 'relayUsers', 'builtinAlarms']);

export const DEFAULT_PLATFORM_CONFIG: Readonly<PlatformConfig> = Object.freeze({
  heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
  commandTimeoutMs: DEFAULT_COMMAND_TIMEOUT_MS,
  queryTimeoutMs: DEFAULT_QUERY_TIMEOUT_MS,
  maxTimeouts: MAX_TIMEOUTS,
  gatewayValidIntervalMs: DEFAULT_GATEWAY_VALID_INTERVAL_MS,
  deviceMissedPolls: DEFAULT_DEVICE_MISSED_POLLS,
  defaultDevicePollMs: DEFAULT_DEVICE_POLL_MS,
  tickMs: DEFAULT_TICK_MS,
  retentionDays: DEFAULT_RETENTION_DAYS,
  maxIngestBatch: DEFAULT_MAX_INGEST_BATCH,
  ingestRetries: DEFAULT_INGEST_RETRIES,
  ingestRetryMs: DEFAULT_INGEST_RETRY_MS,
  downlinkQos: 1,
  telemetryQos: 1,
  seqWindow: DEFAULT_SEQ_WINDOW,
  // the library default is today's behaviour; `mqiot up`/`cloud` turn identity on unless in lab mode
  requireGatewayIdentity: false,
  unknownGateways: UnknownGateways.Register,
  relayUsers: [],
  // a library user (and a test) starts without alarm rules; `mqiot up`, `cloud` and `edge` turn them on
  builtinAlarms: false,
});

export function parsePlatformConfig(input: Partial<PlatformConfig> = {}): Readonly<PlatformConfig> {
  const config = { ...DEFAULT_PLATFORM_CONFIG, ...input };
  if (typeof config.requireGatewayIdentity !== 'boolean')
    throw new PlatformError(
      PlatformErrorCode.InvalidInput,
      'platform.requireGatewayIdentity must be true or false',
    );
  if (!Object.values(UnknownGateways).includes(config.unknownGateways))
    throw new PlatformError(
      PlatformErrorCode.InvalidInput,
      `platform.unknownGateways must be one of ${Object.values(UnknownGateways).join(', ')}`,
    );
  if (!Array.isArray(config.relayUsers) || config.relayUsers.some((u) => typeof u !== 'string' || u === ''))
    throw new PlatformError(
      PlatformErrorCode.InvalidInput,
      'platform.relayUsers must be a list of user names',
    );
  if (typeof config.builtinAlarms !== 'boolean')
    throw new PlatformError(PlatformErrorCode.InvalidInput, 'platform.builtinAlarms must be true or false');
  for (const [key, value] of Object.entries(config)) {
    if (NON_NUMERIC.has(key)) continue;
    const min = key === 'retentionDays' || key === 'ingestRetries' ? 0 : key.endsWith('Qos') ? 0 : 1;
    const max = key.endsWith('Qos') ? 2 : Number.MAX_SAFE_INTEGER;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new PlatformError(
        PlatformErrorCode.InvalidInput,
        `platform.${key} must be an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}`,
      );
    }
  }
  return Object.freeze(config);
}
