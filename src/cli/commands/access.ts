// `mqiot access`: the dual-broker access module (docs/access.md).
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import {
  AccessConfigError,
  DEFAULT_FAILBACK_HOLD_MS,
  DEFAULT_LISTEN_PORT,
  DEFAULT_UPSTREAM_KEEPALIVE,
  parseAccessOptions,
  startAccessModule,
  type AccessOptions,
  type AccessOptionsInput,
  type UpstreamInput,
} from '../../app/commands/access.ts';
import { StartError } from '../../app/start-error.ts';
import { createLogger } from '../../log.ts';
import { parseCommandArgs } from '../args.ts';
import { CliError } from '../errors.ts';
import { waitForStopSignal } from '../signals.ts';

export const summary = 'dual-broker access module: two brokers behind one address (failover, failback)';

const HELP = `usage: mqiot access --broker1 URL --broker2 URL [options]

Clients connect here as to any MQTT 3.1.1 / 5.0 broker. Each client gets a session on both brokers;
PUBLISH goes to Broker1 and, the moment Broker1 is lost, to Broker2 (unacknowledged QoS 1/2 messages
are sent again there); back to Broker1 once it has stayed up for the failback hold time.

options:
  --listen PORT             MQTT port for clients (default ${DEFAULT_LISTEN_PORT})
  --host HOST               interface to listen on (default 0.0.0.0)
  --broker1 URL             primary broker: mqtt://host:port or mqtts://host:port (user:pass@ allowed)
  --broker2 URL             secondary broker
  --broker1-username USER   credentials for Broker1 (replace the client's own); same for --broker2-*
  --broker1-password PASS
  --broker1-ca FILE         TLS: CA certificate(s) (PEM) to trust for Broker1
  --broker1-cert FILE       TLS: client certificate (PEM)
  --broker1-key FILE        TLS: client key (PEM)
  --broker1-insecure        TLS: do not verify Broker1's certificate
  --failback-hold SECONDS   Broker1 must stay up this long before traffic returns (default ${DEFAULT_FAILBACK_HOLD_MS / 1000})
  --keepalive SECONDS       keep-alive towards the brokers; silence noticed after 1–1.1 × this (default ${DEFAULT_UPSTREAM_KEEPALIVE})
  --metrics-port PORT       Prometheus text on http://METRICS-HOST:PORT/metrics (default: off)
  --metrics-host HOST       (default 127.0.0.1)
  --config FILE             YAML or JSON with the same settings (see docs/access.md); flags win
  --log-level LEVEL         trace, debug, info, warn, error, fatal or silent (default info)
  -h, --help                show this help

Environment: MQIOT_ACCESS_BROKER1, MQIOT_ACCESS_BROKER2, MQIOT_ACCESS_LISTEN (flags > environment > file).`;

const upstreamFlags = (n: 1 | 2) =>
  ({
    [`broker${n}`]: { type: 'string' },
    [`broker${n}-username`]: { type: 'string' },
    [`broker${n}-password`]: { type: 'string' },
    [`broker${n}-ca`]: { type: 'string' },
    [`broker${n}-cert`]: { type: 'string' },
    [`broker${n}-key`]: { type: 'string' },
    [`broker${n}-insecure`]: { type: 'boolean' },
  }) as const;

const OPTIONS = {
  listen: { type: 'string' },
  host: { type: 'string' },
  ...upstreamFlags(1),
  ...upstreamFlags(2),
  'failback-hold': { type: 'string' },
  keepalive: { type: 'string' },
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
  config: { type: 'string', short: 'c' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = Record<string, string | boolean | undefined>;

function readConfigFile(file: string): AccessOptionsInput {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`access: cannot read ${file}: ${(err as Error).message}`, 2, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new CliError(`access: ${file} is not valid YAML/JSON: ${(err as Error).message}`, 2, {
      cause: err,
    });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new CliError(`access: ${file} must hold a mapping`);
  const root = doc as Record<string, unknown>;
  const section = 'access' in root ? root.access : root; // a whole mqiot config file, or just this part
  if (typeof section !== 'object' || section === null)
    throw new CliError(`access: ${file}: 'access' must be a mapping`);
  return section as AccessOptionsInput;
}

function upstreamFrom(
  values: Values,
  n: 1 | 2,
  base: UpstreamInput | string | undefined,
  env: string | undefined,
) {
  const fromBase: UpstreamInput = typeof base === 'string' ? { url: base } : { ...base };
  const out: UpstreamInput = { ...fromBase };
  const url = (values[`broker${n}`] as string | undefined) ?? env;
  if (url !== undefined) out.url = url;
  const set = (key: keyof UpstreamInput, flag: string) => {
    if (values[flag] !== undefined) out[key] = values[flag];
  };
  set('username', `broker${n}-username`);
  set('password', `broker${n}-password`);
  set('caFile', `broker${n}-ca`);
  set('certFile', `broker${n}-cert`);
  set('keyFile', `broker${n}-key`);
  if (values[`broker${n}-insecure`] === true) out.rejectUnauthorized = false;
  return out.url === undefined && Object.keys(out).length === 0 ? undefined : out;
}

/** Flags > environment > file > defaults; validated once (AccessConfigError names the field). */
export function accessOptionsFromArgs(argv: string[], env: NodeJS.ProcessEnv = process.env) {
  const { values } = parseCommandArgs('access', argv, OPTIONS);
  const v = values as Values;
  const file = v.config as string | undefined;
  const input: AccessOptionsInput = file ? readConfigFile(file) : {};
  const seconds = (flag: string) => {
    const raw = v[flag] as string | undefined;
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n < 0)
      throw new CliError(`access: --${flag} expects seconds, got '${raw}'`);
    return n;
  };
  const listen = (v.listen as string | undefined) ?? env.MQIOT_ACCESS_LISTEN;
  if (listen !== undefined) input.listenPort = listen;
  if (v.host !== undefined) input.listenHost = v.host;
  const b1 = upstreamFrom(v, 1, input.broker1, env.MQIOT_ACCESS_BROKER1);
  const b2 = upstreamFrom(v, 2, input.broker2, env.MQIOT_ACCESS_BROKER2);
  if (b1) input.broker1 = b1;
  if (b2) input.broker2 = b2;
  const hold = seconds('failback-hold');
  if (hold !== undefined) input.failbackHoldMs = hold * 1000;
  const keepAlive = seconds('keepalive');
  if (keepAlive !== undefined) input.upstreamKeepAlive = keepAlive;
  if (v['metrics-port'] !== undefined) input.metricsPort = v['metrics-port'];
  if (v['metrics-host'] !== undefined) input.metricsHost = v['metrics-host'];
  let options: AccessOptions;
  try {
    options = parseAccessOptions(input);
  } catch (err) {
    if (err instanceof AccessConfigError)
      throw new CliError(`access: ${file ? `${file}: ` : ''}${err.message}`, 2, { cause: err });
    throw err;
  }
  return { help: v.help === true, options, logLevel: v['log-level'] as string | undefined };
}

export async function run(argv: string[]): Promise<number> {
  const stopSignal = waitForStopSignal();
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(HELP);
    return 0;
  }
  const { options, logLevel } = accessOptionsFromArgs(argv);
  const logger = createLogger(logLevel ? { level: logLevel as never } : {});
  let access;
  try {
    access = await startAccessModule(options, logger);
  } catch (err) {
    if (err instanceof StartError) throw new CliError(`access: ${err.message}`, 1, { cause: err });
    throw err;
  }
  logger.info(
    {
      port: access.port,
      metricsPort: access.metricsPort,
      broker1: options.broker1.url,
      broker2: options.broker2.url,
    },
    'access module started',
  );
  const signal = await stopSignal;
  logger.info({ signal }, 'shutting down');
  await access.close();
  setTimeout(() => process.exit(0), 1000).unref();
  return 0;
}
