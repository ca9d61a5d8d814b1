import { readFileSync } from 'node:fs';
import { AccessConfigError } from './errors.ts';

/**
 * The access module's configuration: one schema with DEFAULT_* values, validated once, frozen, and
 * passed into constructors (nats.js core/src/options.ts `parseOptions()`).
 */

export interface UpstreamConfig {
  /** As given (mqtt://, mqtts://, tcp://, ssl://, tls://), for logs; credentials removed. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
  /** PEM text (not file names; the CLI reads the files). */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly rejectUnauthorized: boolean;
  readonly servername?: string;
}

export interface AccessOptions {
  readonly listenHost: string;
  readonly listenPort: number;
  readonly broker1: UpstreamConfig;
  readonly broker2: UpstreamConfig;
  /** How long Broker1 must stay up before PUBLISHes go back to it. */
  readonly failbackHoldMs: number;
  /** Keep-alive the module uses towards each broker (seconds); silence is noticed after 1–1.1 × this. */
  readonly upstreamKeepAlive: number;
  /** Limit for a broker's CONNACK (and any merged answer). */
  readonly connectTimeoutMs: number;
  /** After one broker said yes, how long to wait for the other's answer before answering the client. */
  readonly mergeWaitMs: number;
  readonly backoffBaseMs: number;
  readonly backoffCapMs: number;
  readonly dedupWindowMs: number;
  readonly dedupMaxEntries: number;
  /**
   * How long a QoS 2 message whose PUBREL went to a broker that was then lost waits for that broker's
   * link to return (to finish it there, exactly once) before it is sent to the other broker.
   */
  readonly qos2HoldMs: number;
  /** QoS 1/2 messages from one client held while no broker acknowledged them; the client is paused beyond. */
  readonly maxInflight: number;
  /** HTTP port for Prometheus `/metrics`; undefined: no HTTP server. */
  readonly metricsPort?: number;
  readonly metricsHost: string;
  /** Answer subscriptions to `$SYS/access/#` locally with the module's state. */
  readonly sysTopics: boolean;
}

export const DEFAULT_LISTEN_HOST = '0.0.0.0';
export const DEFAULT_LISTEN_PORT = 1883;
export const DEFAULT_FAILBACK_HOLD_MS = 10_000;
export const DEFAULT_UPSTREAM_KEEPALIVE = 10;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_MERGE_WAIT_MS = 500;
export const DEFAULT_BACKOFF_BASE_MS = 100;
export const DEFAULT_BACKOFF_CAP_MS = 5_000;
export const DEFAULT_DEDUP_WINDOW_MS = 10_000;
export const DEFAULT_DEDUP_MAX_ENTRIES = 4096;
export const DEFAULT_QOS2_HOLD_MS = 30_000;
export const DEFAULT_MAX_INFLIGHT = 1000;
export const DEFAULT_METRICS_HOST = '127.0.0.1';

const DEFAULT_PORTS: Record<string, [number, boolean]> = {
  'mqtt:': [1883, false],
  'tcp:': [1883, false],
  'mqtts:': [8883, true],
  'ssl:': [8883, true],
  'tls:': [8883, true],
};

/** Input shape: what a config file or the CLI gives (loose types, validated here). */
export type AccessOptionsInput = {
  -readonly [K in keyof AccessOptions]?: K extends 'broker1' | 'broker2' ? UpstreamInput | string : unknown;
};

export interface UpstreamInput {
  url?: unknown;
  username?: unknown;
  password?: unknown;
  ca?: unknown;
  cert?: unknown;
  key?: unknown;
  caFile?: unknown;
  certFile?: unknown;
  keyFile?: unknown;
  rejectUnauthorized?: unknown;
  servername?: unknown;
}

export function parseUpstream(field: string, input: UpstreamInput | string | undefined): UpstreamConfig {
  if (input === undefined) throw new AccessConfigError(field, 'is required (a URL such as mqtt://host:1883)');
  const raw = typeof input === 'string' ? { url: input } : input;
  if (typeof raw.url !== 'string') throw new AccessConfigError(`${field}.url`, 'must be a URL string');
  let url: URL;
  try {
    url = new URL(raw.url);
  } catch (err) {
    throw new AccessConfigError(`${field}.url`, `'${raw.url}' is not a URL`, { cause: err });
  }
  const scheme = DEFAULT_PORTS[url.protocol];
  if (!scheme)
    throw new AccessConfigError(`${field}.url`, `scheme ${url.protocol} is not mqtt:, mqtts:, tcp: or tls:`);
  const port = url.port === '' ? scheme[0] : Number(url.port);
  const str = (name: string, v: unknown): string | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new AccessConfigError(`${field}.${name}`, 'must be a string');
    return v;
  };
  const pem = (name: string, text: unknown, file: unknown): string | undefined => {
    const path = str(`${name}File`, file);
    if (path === undefined) return str(name, text);
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new AccessConfigError(`${field}.${name}File`, `cannot read ${path}`, { cause: err });
    }
  };
  const username =
    str('username', raw.username) ?? (url.username ? decodeURIComponent(url.username) : undefined);
  const password =
    str('password', raw.password) ?? (url.password ? decodeURIComponent(url.password) : undefined);
  if (raw.rejectUnauthorized !== undefined && typeof raw.rejectUnauthorized !== 'boolean')
    throw new AccessConfigError(`${field}.rejectUnauthorized`, 'must be true or false');
  const out: UpstreamConfig = {
    url: `${url.protocol}//${url.hostname}:${port}`,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port,
    tls: scheme[1],
    rejectUnauthorized: raw.rejectUnauthorized !== false,
    ...(username !== undefined && { username }),
    ...(password !== undefined && { password }),
    ...(pem('ca', raw.ca, raw.caFile) !== undefined && { ca: pem('ca', raw.ca, raw.caFile) }),
    ...(pem('cert', raw.cert, raw.certFile) !== undefined && { cert: pem('cert', raw.cert, raw.certFile) }),
    ...(pem('key', raw.key, raw.keyFile) !== undefined && { key: pem('key', raw.key, raw.keyFile) }),
    ...(str('servername', raw.servername) !== undefined && { servername: str('servername', raw.servername) }),
  };
  return Object.freeze(out);
}

function num(field: string, v: unknown, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n))
    throw new AccessConfigError(field, `must be a number, got ${String(v)}`);
  if (n < min || n > max) throw new AccessConfigError(field, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** Validates and freezes; throws AccessConfigError naming the field. */
export function parseAccessOptions(input: AccessOptionsInput): Readonly<AccessOptions> {
  const known = new Set([
    'listenHost', 'listenPort', 'broker1', 'broker2', 'failbackHoldMs', 'upstreamKeepAlive', 'connectTimeoutMs',
    'mergeWaitMs', 'backoffBaseMs', 'backoffCapMs', 'dedupWindowMs', 'dedupMaxEntries', 'maxInflight', 'qos2HoldMs',
    'metricsPort', 'metricsHost', 'sysTopics',
  ]); // prettier-ignore
  for (const key of Object.keys(input)) {
    if (!known.has(key)) throw new AccessConfigError(key, 'unknown option');
  }
  if (input.listenHost !== undefined && typeof input.listenHost !== 'string')
    throw new AccessConfigError('listenHost', 'must be a string');
  if (input.sysTopics !== undefined && typeof input.sysTopics !== 'boolean')
    throw new AccessConfigError('sysTopics', 'must be true or false');
  const backoffBaseMs = num('backoffBaseMs', input.backoffBaseMs, DEFAULT_BACKOFF_BASE_MS, 1, 60_000);
  const options: AccessOptions = {
    listenHost: (input.listenHost as string | undefined) ?? DEFAULT_LISTEN_HOST,
    listenPort: num('listenPort', input.listenPort, DEFAULT_LISTEN_PORT, 0, 65535),
    broker1: parseUpstream('broker1', input.broker1),
    broker2: parseUpstream('broker2', input.broker2),
    failbackHoldMs: num('failbackHoldMs', input.failbackHoldMs, DEFAULT_FAILBACK_HOLD_MS, 0, 86_400_000),
    qos2HoldMs: num('qos2HoldMs', input.qos2HoldMs, DEFAULT_QOS2_HOLD_MS, 0, 86_400_000),
    upstreamKeepAlive: num(
      'upstreamKeepAlive',
      input.upstreamKeepAlive,
      DEFAULT_UPSTREAM_KEEPALIVE,
      1,
      65535,
    ),
    connectTimeoutMs: num(
      'connectTimeoutMs',
      input.connectTimeoutMs,
      DEFAULT_CONNECT_TIMEOUT_MS,
      100,
      600_000,
    ),
    mergeWaitMs: num('mergeWaitMs', input.mergeWaitMs, DEFAULT_MERGE_WAIT_MS, 0, 60_000),
    backoffBaseMs,
    backoffCapMs: num('backoffCapMs', input.backoffCapMs, DEFAULT_BACKOFF_CAP_MS, backoffBaseMs, 600_000),
    dedupWindowMs: num('dedupWindowMs', input.dedupWindowMs, DEFAULT_DEDUP_WINDOW_MS, 0, 3_600_000),
    dedupMaxEntries: num('dedupMaxEntries', input.dedupMaxEntries, DEFAULT_DEDUP_MAX_ENTRIES, 1, 10_000_000),
    maxInflight: num('maxInflight', input.maxInflight, DEFAULT_MAX_INFLIGHT, 1, 65535),
    metricsHost: (input.metricsHost as string | undefined) ?? DEFAULT_METRICS_HOST,
    sysTopics: (input.sysTopics as boolean | undefined) ?? true,
    ...(input.metricsPort !== undefined && {
      metricsPort: num('metricsPort', input.metricsPort, 0, 0, 65535),
    }),
  };
  return Object.freeze(options);
}
