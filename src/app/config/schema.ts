// The configuration of mqiot: one typed tree with a default for every field. A config file, the
// environment and command-line flags may each override any leaf; `loadConfig` validates the result
// once and freezes it. Components receive their section in their constructor (no global config).

import { DEFAULT_BROKER_OPTIONS, type BrokerOptions } from '../../broker/options.ts';
import { DEFAULT_AUTH_CONFIG, type AuthConfig } from '../../broker/auth/index.ts';
import type { ListenerTlsOptions } from '../../broker/server/index.ts';
import { LOG_LEVELS, type LogLevel } from '../../log.ts';

export { LOG_LEVELS, type LogLevel };

/** The TLS listener (port, PEM files): the broker's own plain option type. */
export type ListenerTlsConfig = ListenerTlsOptions;

export interface SysConfig {
  /** Seconds between two `$SYS/broker/...` updates; 0 turns $SYS off. */
  interval: number;
}

/**
 * Protocol limits and optional behaviours handed to `new Broker(options)`: exactly the broker's own
 * option set (src/broker/options.ts), with its defaults, so the two can never drift apart.
 */
export type MqttConfig = BrokerOptions;

export interface BrokerConfig {
  /** Interface to listen on; `0.0.0.0` = all IPv4 interfaces, `::` = all interfaces. */
  host: string;
  /** MQTT over TCP. Every port may be 0: the system picks a free one (the log says which). */
  port: number;
  /** MQTT over WebSocket (subprotocol `mqtt`, any path); null turns it off. */
  wsPort: number | null;
  tls: ListenerTlsConfig;
  /** HTTP port serving Prometheus text on `/metrics`; null turns it off. */
  metricsPort: number | null;
  sys: SysConfig;
  /**
   * Where sessions and retained messages are kept: a SQLite file (durable: a broker crash loses nothing
   * it acknowledged), `off` (or null) for memory only, or `auto`: memory for `mqiot broker`,
   * `<data-dir>/broker.db` for `mqiot up` and `mqiot edge`. See `persistencePath`.
   */
  persistence: string | null;
  /** Who may connect and which topics each client may use (docs/broker.md "Authentication and ACLs"). */
  auth: AuthConfig;
  mqtt: MqttConfig;
}

/** The HTTP API and dashboard (`mqiot up`, `cloud`, `edge`): transport and who may reach it. */
export interface HttpConfig {
  /** Port of the HTTP API and dashboard (0 = any free port); `--http-port` overrides it. */
  port: number;
  /**
   * Host names the API answers to (the Host header), besides the ones always allowed: localhost names,
   * IP addresses and this machine's host name. Needed for a DNS name the API is reached by; `*` turns
   * the check off (only behind a proxy that checks the Host itself).
   */
  allowedHosts: string[];
  /** Hours a dashboard/login session lasts. */
  sessionHours: number;
  /** Behind a reverse proxy: take the client address, scheme and host from X-Forwarded-* headers. */
  trustProxy: boolean;
  /** HTTPS on the API's own listener when both are set (PEM files). */
  tls: { cert: string | null; key: string | null };
}

export interface LogConfig {
  level: LogLevel;
}

export interface MqiotConfig {
  broker: BrokerConfig;
  http: HttpConfig;
  log: LogConfig;
}

export const DEFAULT_HOST = '0.0.0.0';
export const DEFAULT_MQTT_PORT = 1883;
export const DEFAULT_WS_PORT = 8083;
export const DEFAULT_TLS_PORT = 8883;
export const DEFAULT_METRICS_PORT = 9883;
export const DEFAULT_HTTP_PORT = 8080;
export const DEFAULT_SYS_INTERVAL = 10;
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';
/** `broker.persistence` default: the command decides (memory for `mqiot broker`, a file under the data dir for `mqiot up`). */
export const PERSISTENCE_AUTO = 'auto';
export const PERSISTENCE_OFF = 'off';

export const DEFAULT_MQTT: MqttConfig = DEFAULT_BROKER_OPTIONS;

export const DEFAULT_CONFIG: MqiotConfig = {
  broker: {
    host: DEFAULT_HOST,
    port: DEFAULT_MQTT_PORT,
    wsPort: DEFAULT_WS_PORT,
    tls: { port: DEFAULT_TLS_PORT, cert: null, key: null, ca: null },
    metricsPort: DEFAULT_METRICS_PORT,
    sys: { interval: DEFAULT_SYS_INTERVAL },
    persistence: PERSISTENCE_AUTO,
    auth: { ...DEFAULT_AUTH_CONFIG },
    mqtt: { ...DEFAULT_MQTT, denySubscribe: [...DEFAULT_MQTT.denySubscribe] },
  },
  http: {
    port: DEFAULT_HTTP_PORT,
    allowedHosts: [],
    sessionHours: 12,
    trustProxy: false,
    tls: { cert: null, key: null },
  },
  log: { level: DEFAULT_LOG_LEVEL },
};

/** A check for one leaf: returns a problem description, or undefined when the value is fine. */
export type Check = (value: unknown) => string | undefined;

const MAX_PORT = 65535;

function integer(min: number, max: number): Check {
  return (v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max
      ? undefined
      : `expected an integer from ${min} to ${max}, got ${show(v)}`;
}
const port = integer(0, MAX_PORT);
const optionalPort: Check = (v) => (v === null ? undefined : port(v));
const boolean: Check = (v) => (typeof v === 'boolean' ? undefined : `expected true or false, got ${show(v)}`);
const text: Check = (v) =>
  typeof v === 'string' && v !== '' ? undefined : `expected a string, got ${show(v)}`;
const anyText: Check = (v) => (typeof v === 'string' ? undefined : `expected a string, got ${show(v)}`);
const finiteNumber: Check = (v) =>
  typeof v === 'number' && Number.isFinite(v) ? undefined : `expected a number, got ${show(v)}`;
const optionalText: Check = (v) => (v === null ? undefined : text(v));
function oneOf(values: readonly unknown[]): Check {
  return (v) => (values.includes(v) ? undefined : `expected one of ${values.join(', ')}, got ${show(v)}`);
}
const topicFilters: Check = (v) =>
  Array.isArray(v) && v.every((f) => typeof f === 'string' && f !== '')
    ? undefined
    : `expected a list of topic filters, got ${show(v)}`;

const hostNames: Check = (v) =>
  Array.isArray(v) &&
  v.every((h) => typeof h === 'string' && /^(\*|\*\.)?[A-Za-z0-9.:[\]-]*$/.test(h) && h !== '')
    ? undefined
    : `expected a list of host names (e.g. iot.example.com, *.example.com), got ${show(v)}`;

export function show(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}

/** Every leaf of the tree with its check. The dotted path doubles as the env name (MQIOT_BROKER_WS_PORT). */
export const FIELD_CHECKS: Readonly<Record<string, Check>> = {
  'broker.host': text,
  'broker.port': port,
  'broker.wsPort': optionalPort,
  'broker.tls.port': port,
  'broker.tls.cert': optionalText,
  'broker.tls.key': optionalText,
  'broker.tls.ca': optionalText,
  'broker.metricsPort': optionalPort,
  'broker.sys.interval': integer(0, 86_400),
  'broker.persistence': optionalText,
  'broker.auth.allowAnonymous': boolean,
  'broker.auth.passwordFile': optionalText,
  'broker.auth.aclFile': optionalText,
  'broker.auth.gatewayAcl': boolean,
  ...mqttChecks(),
  'http.port': port,
  'http.allowedHosts': hostNames,
  'http.sessionHours': integer(1, 24 * 365),
  'http.trustProxy': boolean,
  'http.tls.cert': optionalText,
  'http.tls.key': optionalText,
  'log.level': oneOf(LOG_LEVELS),
};

/**
 * The SQLite file of `broker.persistence`, or null for memory only. `autoPath` is what `auto` means
 * for the command at hand (null for `mqiot broker`, `<data-dir>/broker.db` for `mqiot up`).
 */
export function persistencePath(value: string | null, autoPath: string | null): string | null {
  if (value === null || /^(off|none|memory|null|false)$/i.test(value.trim())) return null;
  if (value.trim().toLowerCase() === PERSISTENCE_AUTO) return autoPath;
  return value;
}

/**
 * The broker validates its own ranges (parseBrokerOptions, run by loadConfig); here only the type of
 * each option is checked, taken from its default, so a new broker option is configurable at once.
 */
function mqttChecks(): Record<string, Check> {
  const checks: Record<string, Check> = {};
  for (const [key, value] of Object.entries(DEFAULT_BROKER_OPTIONS)) {
    const path = `broker.mqtt.${key}`;
    if (typeof value === 'number') checks[path] = finiteNumber;
    else if (typeof value === 'boolean') checks[path] = boolean;
    else if (typeof value === 'string') checks[path] = anyText;
    else if (Array.isArray(value)) checks[path] = topicFilters;
  }
  return checks;
}
