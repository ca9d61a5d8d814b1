import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { BrokerOptionsError, parseBrokerOptions } from '../../broker/options.ts';
import { ConfigError } from './errors.ts';
import { DEFAULT_CONFIG, FIELD_CHECKS, show, type MqiotConfig } from './schema.ts';

export interface LoadConfigOptions {
  /** YAML or JSON file (YAML is a superset of JSON, so one parser reads both). */
  file?: string;
  /** Environment to read `MQIOT_*` overrides from; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Highest-precedence values, typically from command-line flags. */
  overrides?: DeepPartial<MqiotConfig>;
  /**
   * A command's own defaults, applied over the built-in ones and under everything else (e.g. `mqiot up`
   * refuses anonymous clients unless the file, the environment or a flag allows them).
   */
  defaults?: DeepPartial<MqiotConfig>;
}

export type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K];
};

const ENV_PREFIX = 'MQIOT_';

/**
 * Builds the configuration: defaults, then the file, then `MQIOT_*` environment variables, then
 * `overrides`. Every value is checked as it is applied, so an error names the field and where the bad
 * value came from. The result is deeply frozen.
 */
export function loadConfig(options: LoadConfigOptions = {}): MqiotConfig {
  const config = structuredClone(DEFAULT_CONFIG);
  const origins = new Map<string, string>();
  if (options.defaults !== undefined) applyTree(config, options.defaults, '', 'command defaults', origins);
  if (options.file !== undefined) applyTree(config, readConfigFile(options.file), '', options.file, origins);
  applyEnv(config, options.env ?? process.env, origins);
  if (options.overrides !== undefined) applyTree(config, options.overrides, '', 'command line', origins);
  checkBrokerOptions(config, origins);
  return deepFreeze(config);
}

/** The broker's own validation (ranges, combinations), reported against the source of the value. */
function checkBrokerOptions(config: MqiotConfig, origins: Map<string, string>): void {
  try {
    parseBrokerOptions(config.broker.mqtt);
  } catch (err) {
    if (!(err instanceof BrokerOptionsError)) throw err;
    const path = `broker.mqtt.${err.field}`;
    throw new ConfigError(path, origins.get(path) ?? 'defaults', err.message, { cause: err });
  }
}

export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('(file)', file, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError('(file)', file, `not valid YAML/JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** `broker.wsPort` → `MQIOT_BROKER_WS_PORT`. */
export function envName(path: string): string {
  return (
    ENV_PREFIX +
    path
      .split('.')
      .map((part) => part.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase())
      .join('_')
  );
}

type Origins = Map<string, string>;

function applyTree(
  target: Record<string, unknown> | object,
  source: unknown,
  prefix: string,
  origin: string,
  origins: Origins,
): void {
  const into = target as Record<string, unknown>;
  if (!isPlainObject(source)) {
    throw new ConfigError(
      prefix || '(top level)',
      origin,
      `expected a mapping of fields, got ${show(source)}`,
    );
  }
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue;
    const path = prefix ? `${prefix}.${key}` : key;
    if (!Object.hasOwn(into, key)) throw new ConfigError(path, origin, `unknown field${suggest(into, key)}`);
    if (isPlainObject(into[key])) {
      applyTree(into[key], value, path, origin, origins);
    } else {
      setLeaf(into, key, value, path, origin, origins);
    }
  }
}

function setLeaf(
  into: Record<string, unknown>,
  key: string,
  value: unknown,
  path: string,
  origin: string,
  origins: Origins,
): void {
  const check = FIELD_CHECKS[path];
  const problem = check ? check(value) : 'no check defined for this field';
  if (problem !== undefined) throw new ConfigError(path, origin, problem);
  into[key] = Array.isArray(value) ? [...(value as unknown[])] : value;
  origins.set(path, origin);
}

function applyEnv(config: MqiotConfig, env: NodeJS.ProcessEnv, origins: Origins): void {
  for (const path of Object.keys(FIELD_CHECKS)) {
    const name = envName(path);
    const raw = env[name];
    // An empty variable counts as unset (`MQIOT_BROKER_PORT= mqiot broker` keeps the default).
    if (raw === undefined || raw.trim() === '') continue;
    const parts = path.split('.');
    const leaf = parts.pop() as string;
    let node = config as unknown as Record<string, unknown>;
    for (const part of parts) node = node[part] as Record<string, unknown>;
    setLeaf(node, leaf, parseEnvValue(raw, node[leaf]), path, `environment ${name}`, origins);
  }
}

/** Environment values are text; the default's type says how to read them. Unreadable text is passed
 * on unchanged so that the field's check reports it. */
function parseEnvValue(raw: string, current: unknown): unknown {
  const trimmed = raw.trim();
  if (typeof current === 'boolean') {
    if (/^(true|1|yes|on)$/i.test(trimmed)) return true;
    if (/^(false|0|no|off)$/i.test(trimmed)) return false;
    return raw;
  }
  if (current === null || typeof current === 'number') {
    // Optional ports: `off` turns the listener off.
    if (/^(off|none|null)$/i.test(trimmed)) return null;
    if (!Number.isNaN(Number(trimmed))) return Number(trimmed);
  }
  if (Array.isArray(current)) return trimmed.split(',').map((s) => s.trim());
  return raw;
}

function suggest(known: Record<string, unknown>, key: string): string {
  const lower = key.toLowerCase().replace(/[-_]/g, '');
  const match = Object.keys(known).find((k) => k.toLowerCase() === lower);
  return match ? ` (did you mean '${match}'?)` : ` (known: ${Object.keys(known).join(', ')})`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
