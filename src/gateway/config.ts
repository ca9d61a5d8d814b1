// The gateway's configuration: one typed schema with DEFAULT_* values, validated once (errors name the
// field and the file), frozen, passed into the Gateway constructor.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { isValidTopicId } from '../protocol/gateway-topics.ts';
import { QueueFullPolicy } from './outbox.ts';

export const DEFAULT_BATCH_WINDOW_MS = 1000;
export const DEFAULT_BATCH_MAX_FRAMES = 50;
export const DEFAULT_BATCH_MAX_BYTES = 64 * 1024;
export const DEFAULT_QOS = 1;
export const DEFAULT_HEARTBEAT_VALID_MS = 150_000;
export const DEFAULT_REPORT_INTERVAL_MS = 60_000;
export const DEFAULT_REPORT_ACK_TIMEOUT_MS = 10_000;
export const DEFAULT_REPORT_MAX_PENDING = 16;
export const DEFAULT_COMMAND_CACHE_SIZE = 1000;
export const DEFAULT_COMMAND_CACHE_TTL_MS = 600_000;
export const DEFAULT_QUEUE_MAX_MESSAGES = 100_000;
export const DEFAULT_QUEUE_INFLIGHT = 32;
/** First resend of a message the broker refused (error PUBACK/PUBREC); doubles per round up to the max. */
export const DEFAULT_QUEUE_RETRY_MS = 1000;
export const DEFAULT_QUEUE_RETRY_MAX_MS = 30_000;
/** A data group the platform has not acknowledged as stored this long after the broker took it goes again. */
export const DEFAULT_QUEUE_ACK_TIMEOUT_MS = 5000;
export const DEFAULT_POLL_EVERY_MS = 5000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 1000;
export const DEFAULT_REQUEST_RETRIES = 2;
export const DEFAULT_BAUD_RATE = 9600;
export const DEFAULT_KEEPALIVE_S = 30;
export const DEFAULT_RECONNECT_MS = 1000;
export const DEFAULT_SESSION_EXPIRY_S = 86_400;

export const TransportType = {
  Tcp: 'tcp',
  Serial: 'serial',
  UdpListen: 'udp-listen',
  TcpListen: 'tcp-listen',
} as const;
export type TransportType = (typeof TransportType)[keyof typeof TransportType];

export type TransportConfig =
  | { type: 'tcp'; host: string; port: number }
  | { type: 'serial'; path: string; baudRate: number }
  | { type: 'udp-listen'; host: string; port: number }
  | { type: 'tcp-listen'; host: string; port: number };

export interface PollRequest {
  name: string;
  /** Encoder of the device's contract ('read-holding-registers', 'read', …). */
  message: string;
  params: Record<string, unknown>;
  everyMs: number;
  timeoutMs: number;
  retries: number;
}

export interface DeviceConfig {
  id: string;
  contract: string;
  /** A device model id, a model file (absolute once parsed) or free text; the birth declares it. */
  model?: string;
  transport: TransportConfig;
  /** Parameters merged into every request and command of this device (unit id, meter address). */
  params: Record<string, unknown>;
  poll: PollRequest[];
  /** Timeout and retries of commands sent to this device. */
  commandTimeoutMs: number;
  commandRetries: number;
}

export interface GatewayConfig {
  id: string;
  mqtt: {
    urls: string[];
    username?: string;
    password?: string;
    clientId: string;
    protocolVersion: 4 | 5;
    keepalive: number;
    reconnectMs: number;
    sessionExpiry: number;
    qos: 0 | 1 | 2;
    /** For mqtts:// and wss://: files (absolute paths) and whether to check the server certificate. */
    tls: { caFile?: string; certFile?: string; keyFile?: string; rejectUnauthorized: boolean };
  };
  batching: { windowMs: number; maxFrames: number; maxBytes: number };
  heartbeat: { validIntervalMs: number };
  reports: { intervalMs: number; ackTimeoutMs: number; maxPending: number };
  commands: { cacheSize: number; cacheTtlMs: number };
  queue: {
    path: string;
    maxMessages: number;
    whenFull: QueueFullPolicy;
    inflight: number;
    retryMs: number;
    retryMaxMs: number;
    /** First wait for a `data-ack` (doubles per resend of one group up to retryMaxMs). */
    ackTimeoutMs: number;
  };
  devices: DeviceConfig[];
}

export class GatewayConfigError extends Error {
  readonly field: string;
  constructor(field: string, problem: string, source = 'config', options?: { cause?: unknown }) {
    super(`${source}: ${field}: ${problem}`, options);
    this.name = 'GatewayConfigError';
    this.field = field;
  }
}

type Obj = Record<string, unknown>;

class Reader {
  constructor(private readonly source: string) {}
  fail(field: string, problem: string): never {
    throw new GatewayConfigError(field, problem, this.source);
  }
  obj(v: unknown, field: string): Obj {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(field, 'must be a map');
    return v as Obj;
  }
  str(o: Obj, key: string, field: string, fallback?: string): string {
    const v = o[key] ?? fallback;
    if (typeof v !== 'string' || v.length === 0) this.fail(field, 'must be a non-empty string');
    return v;
  }
  optStr(o: Obj, key: string, field: string): string | undefined {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') this.fail(field, 'must be a string');
    return v;
  }
  int(
    o: Obj,
    key: string,
    field: string,
    fallback: number,
    min: number,
    max = Number.MAX_SAFE_INTEGER,
  ): number {
    const v = o[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      this.fail(field, `must be a whole number ${min}..${max}, got ${JSON.stringify(v)}`);
    return v;
  }
  oneOf<T extends string | number>(
    o: Obj,
    key: string,
    field: string,
    fallback: T,
    allowed: readonly T[],
  ): T {
    const v = (o[key] ?? fallback) as T;
    if (!allowed.includes(v))
      this.fail(field, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
    return v;
  }
  list(o: Obj, key: string, field: string): unknown[] {
    const v = o[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) this.fail(field, 'must be a list');
    return v;
  }
}

/** Validates a parsed config object; relative queue paths resolve against `baseDir`. */
export function parseGatewayConfig(raw: unknown, source = 'config', baseDir = process.cwd()): GatewayConfig {
  const r = new Reader(source);
  const root = r.obj(raw, '(root)');
  const gw = r.obj(root.gateway, 'gateway');
  const id = r.str(gw, 'id', 'gateway.id', typeof root.id === 'string' ? root.id : undefined);
  if (!isValidTopicId(id)) r.fail('gateway.id', "cannot contain '/', '+', '#' or NUL (it is a topic level)");
  const m = r.obj(root.mqtt, 'mqtt');
  const urls: unknown = m.urls ?? (m.url !== undefined ? [m.url] : undefined);
  if (!Array.isArray(urls) || urls.length === 0)
    return r.fail('mqtt.urls', 'must list at least one broker URL');
  urls.forEach((u: unknown, i: number) => {
    if (typeof u !== 'string' || !/^(mqtts?|tcp|ssl|tls|wss?):\/\/[^/]+/.test(u))
      r.fail(`mqtt.urls[${i}]`, `must be a broker URL like mqtt://host:1883, got ${JSON.stringify(u)}`);
  });
  const mqtt: GatewayConfig['mqtt'] = {
    urls: urls as string[],
    username: process.env.MQIOT_GATEWAY_MQTT_USERNAME ?? r.optStr(m, 'username', 'mqtt.username'),
    password: process.env.MQIOT_GATEWAY_MQTT_PASSWORD ?? r.optStr(m, 'password', 'mqtt.password'),
    clientId: r.str(m, 'clientId', 'mqtt.clientId', `mqiot-gw-${id}`),
    protocolVersion: r.oneOf(m, 'protocolVersion', 'mqtt.protocolVersion', 5, [4, 5] as const),
    keepalive: r.int(m, 'keepalive', 'mqtt.keepalive', DEFAULT_KEEPALIVE_S, 0, 65535),
    reconnectMs: r.int(m, 'reconnectMs', 'mqtt.reconnectMs', DEFAULT_RECONNECT_MS, 10),
    sessionExpiry: r.int(m, 'sessionExpiry', 'mqtt.sessionExpiry', DEFAULT_SESSION_EXPIRY_S, 0, 0xffffffff),
    qos: r.oneOf(m, 'qos', 'mqtt.qos', DEFAULT_QOS, [0, 1, 2] as const),
    tls: parseTls(r, r.obj(m.tls, 'mqtt.tls'), baseDir),
  };
  const b = r.obj(root.batching, 'batching');
  const batching = {
    windowMs: r.int(b, 'windowMs', 'batching.windowMs', DEFAULT_BATCH_WINDOW_MS, 0),
    maxFrames: r.int(b, 'maxFrames', 'batching.maxFrames', DEFAULT_BATCH_MAX_FRAMES, 1),
    maxBytes: r.int(b, 'maxBytes', 'batching.maxBytes', DEFAULT_BATCH_MAX_BYTES, 16),
  };
  const h = r.obj(root.heartbeat, 'heartbeat');
  const heartbeat = {
    validIntervalMs: r.int(h, 'validIntervalMs', 'heartbeat.validIntervalMs', DEFAULT_HEARTBEAT_VALID_MS, 1),
  };
  const rp = r.obj(root.reports, 'reports');
  const reports = {
    intervalMs: r.int(rp, 'intervalMs', 'reports.intervalMs', DEFAULT_REPORT_INTERVAL_MS, 1),
    ackTimeoutMs: r.int(rp, 'ackTimeoutMs', 'reports.ackTimeoutMs', DEFAULT_REPORT_ACK_TIMEOUT_MS, 1),
    maxPending: r.int(rp, 'maxPending', 'reports.maxPending', DEFAULT_REPORT_MAX_PENDING, 1),
  };
  const c = r.obj(root.commands, 'commands');
  const commands = {
    cacheSize: r.int(c, 'cacheSize', 'commands.cacheSize', DEFAULT_COMMAND_CACHE_SIZE, 1),
    cacheTtlMs: r.int(c, 'cacheTtlMs', 'commands.cacheTtlMs', DEFAULT_COMMAND_CACHE_TTL_MS, 1),
  };
  const q = r.obj(root.queue, 'queue');
  const qPath = r.str(q, 'path', 'queue.path', `mqiot-gateway-${id}.db`);
  const queue = {
    path: queuePath(qPath, baseDir),
    maxMessages: r.int(q, 'maxMessages', 'queue.maxMessages', DEFAULT_QUEUE_MAX_MESSAGES, 1),
    whenFull: r.oneOf(
      q,
      'whenFull',
      'queue.whenFull',
      QueueFullPolicy.DropOldest,
      Object.values(QueueFullPolicy),
    ),
    inflight: r.int(q, 'inflight', 'queue.inflight', DEFAULT_QUEUE_INFLIGHT, 1, 65535),
    retryMs: r.int(q, 'retryMs', 'queue.retryMs', DEFAULT_QUEUE_RETRY_MS, 1),
    retryMaxMs: r.int(q, 'retryMaxMs', 'queue.retryMaxMs', DEFAULT_QUEUE_RETRY_MAX_MS, 1),
    ackTimeoutMs: r.int(q, 'ackTimeoutMs', 'queue.ackTimeoutMs', DEFAULT_QUEUE_ACK_TIMEOUT_MS, 1),
  };
  if (queue.retryMaxMs < queue.retryMs) r.fail('queue.retryMaxMs', 'must be at least queue.retryMs');
  const devices = r
    .list(root, 'devices', 'devices')
    .map((d, i) => parseDevice(r, d, `devices[${i}]`, baseDir));
  const seen = new Set<string>();
  devices.forEach((d, i) => {
    if (seen.has(d.id)) r.fail(`devices[${i}].id`, `duplicate device id '${d.id}'`);
    seen.add(d.id);
  });
  return deepFreeze({ id, mqtt, batching, heartbeat, reports, commands, queue, devices });
}

function parseDevice(r: Reader, raw: unknown, at: string, baseDir: string): DeviceConfig {
  const d = r.obj(raw, at);
  const id = r.str(d, 'id', `${at}.id`);
  if (!isValidTopicId(id)) r.fail(`${at}.id`, "cannot contain '/', '+', '#' or NUL (it is a topic level)");
  const t = r.obj(d.transport, `${at}.transport`);
  const type = r.oneOf(
    t,
    'type',
    `${at}.transport.type`,
    'tcp' as TransportType,
    Object.values(TransportType),
  );
  let transport: TransportConfig;
  if (type === 'serial') {
    transport = {
      type,
      path: r.str(t, 'path', `${at}.transport.path`),
      baudRate: r.int(t, 'baudRate', `${at}.transport.baudRate`, DEFAULT_BAUD_RATE, 50),
    };
  } else {
    const listen = type !== 'tcp';
    transport = {
      type,
      host: r.str(t, 'host', `${at}.transport.host`, listen ? '0.0.0.0' : undefined),
      port: r.int(t, 'port', `${at}.transport.port`, -1, listen ? 0 : 1, 65535),
    };
  }
  const params = r.obj(d.params, `${at}.params`);
  const poll = r.list(d, 'poll', `${at}.poll`).map((p, j): PollRequest => {
    const pa = `${at}.poll[${j}]`;
    const o = r.obj(p, pa);
    const message = r.str(o, 'message', `${pa}.message`);
    return {
      name: r.str(o, 'name', `${pa}.name`, `${message}-${j}`),
      message,
      params: { ...params, ...r.obj(o.params, `${pa}.params`) },
      everyMs: r.int(o, 'everyMs', `${pa}.everyMs`, DEFAULT_POLL_EVERY_MS, 10),
      timeoutMs: r.int(o, 'timeoutMs', `${pa}.timeoutMs`, DEFAULT_REQUEST_TIMEOUT_MS, 1),
      retries: r.int(o, 'retries', `${pa}.retries`, DEFAULT_REQUEST_RETRIES, 0, 100),
    };
  });
  if (poll.length > 0 && (type === 'udp-listen' || type === 'tcp-listen'))
    r.fail(`${at}.poll`, `a '${type}' device pushes its frames; it cannot be polled`);
  return {
    id,
    contract: contractRef(r.str(d, 'contract', `${at}.contract`), baseDir),
    model: optModelRef(r.optStr(d, 'model', `${at}.model`), baseDir),
    transport,
    params,
    poll,
    commandTimeoutMs: r.int(d, 'commandTimeoutMs', `${at}.commandTimeoutMs`, 2000, 1),
    commandRetries: r.int(d, 'commandRetries', `${at}.commandRetries`, 1, 0, 100),
  };
}

function parseTls(r: Reader, t: Obj, baseDir: string): GatewayConfig['mqtt']['tls'] {
  const file = (key: string) => {
    const v = r.optStr(t, key, `mqtt.tls.${key}`);
    return v === undefined ? undefined : resolve(baseDir, v);
  };
  const rejectUnauthorized = t.rejectUnauthorized ?? true;
  if (typeof rejectUnauthorized !== 'boolean') r.fail('mqtt.tls.rejectUnauthorized', 'must be true or false');
  return { caFile: file('caFile'), certFile: file('certFile'), keyFile: file('keyFile'), rejectUnauthorized };
}

/** A model id or free text stays as it is; a model file path becomes absolute, as a contract file's. */
function optModelRef(value: string | undefined, baseDir: string): string | undefined {
  return value === undefined ? undefined : contractRef(value, baseDir);
}

/** A built-in contract id stays as it is; a contract file path becomes absolute. */
function contractRef(value: string, baseDir: string): string {
  return /\.(ya?ml|json)$/i.test(value) ? resolve(baseDir, value) : value;
}

export function loadGatewayConfig(file: string): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new GatewayConfigError('(file)', `cannot read: ${(err as Error).message}`, file, { cause: err });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new GatewayConfigError('(file)', `not valid YAML/JSON: ${(err as Error).message}`, file, {
      cause: err,
    });
  }
  return parseGatewayConfig(raw, file, dirname(resolve(file)));
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * `:memory:` as is; `~/…` in the home directory (so an example config run from a clone keeps its
 * queue out of the repository); anything else relative to the config file.
 */
export function queuePath(path: string, baseDir: string): string {
  if (path === ':memory:') return path;
  if (path === '~' || path.startsWith('~/')) return join(homedir(), path.slice(1));
  return resolve(baseDir, path);
}
