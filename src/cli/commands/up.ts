// `mqiot up`: everything in one process — broker with contracts, platform, HTTP API — on SQLite under a
// data directory. `--demo` adds a simulated site (a gateway and a dozen devices of several protocols).
import { resolve } from 'node:path';
import {
  DEFAULT_CONFIG,
  DEFAULT_HTTP_PORT,
  type DeepPartial,
  type MqiotConfig,
} from '../../app/config/index.ts';
import { createLogger } from '../../log.ts';
import { startAllInOne } from '../../app/all-in-one.ts';
import { SqliteStoreError, type PlatformConfig } from '../../app/commands/platform-options.ts';
import { parseCommandArgs, portFlag } from '../args.ts';
import { CliError } from '../errors.ts';
import { waitForStopSignal } from '../signals.ts';
import { loadCommandConfig } from '../config.ts';
import { httpListenOptions } from '../http-options.ts';
import { SECURITY_HELP, SECURITY_OPTIONS, secureDefaults, securityFlags } from '../gateway-security.ts';
import { PLATFORM_HELP, PLATFORM_OPTIONS, platformFlags } from '../platform-flags.ts';

export const summary =
  'all in one: broker with contracts, platform, HTTP API and web dashboard on SQLite (--demo adds a simulated site)';

const DEFAULT_DATA_DIR = 'data';

const HELP = `usage: mqiot up [options]

Runs the broker (MQTT 3.1.1/5.0), the platform (decoding, registry, telemetry store, commands) and the
HTTP API in one process, with an embedded SQLite database under the data directory.

options:
  --demo                  also start a simulated site: device simulators and a gateway polling them
  --data-dir DIR          where the database (and the demo gateway's queue) live (default ./${DEFAULT_DATA_DIR})
  --persistence FILE|off  broker sessions, queued QoS 1/2 and retained messages (default DIR/broker.db;
                          off: memory only, lost on restart)
  --host HOST             interface for MQTT (default ${DEFAULT_CONFIG.broker.host})
  --port PORT             MQTT over TCP (default ${DEFAULT_CONFIG.broker.port}; 0 = any free port)
  --ws-port PORT|off      MQTT over WebSocket (default ${DEFAULT_CONFIG.broker.wsPort})
  --metrics-port PORT|off Prometheus /metrics (default ${DEFAULT_CONFIG.broker.metricsPort})
  --http-host HOST        interface for the HTTP API (default: same as --host)
  --http-port PORT        web dashboard at /, HTTP API, OpenAPI document at /api/docs (default
                          ${DEFAULT_HTTP_PORT}, or http.port / $MQIOT_HTTP_PORT)
                          (sign-in: the first start creates 'admin' with $MQIOT_ADMIN_PASSWORD or prints
                          a random password once; HTTPS, allowed host names: http.* in --config)
  --postgres URL          store in PostgreSQL instead of SQLite (postgres://user:pass@host/db)
${PLATFORM_HELP}
${SECURITY_HELP}
  --config FILE           broker configuration file (YAML/JSON, see config/mqiot.example.yaml)
  --log-level LEVEL       trace, debug, info, warn, error, fatal or silent
  -h, --help              show this help

Without --demo, MQTT clients need credentials: give gateways theirs with 'mqiot gateways add ID'
(or POST /api/gateways); other users go in a password file (broker.auth.passwordFile).
Ctrl-C stops everything gracefully.`;

const OPTIONS = {
  demo: { type: 'boolean' },
  'data-dir': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'ws-port': { type: 'string' },
  'metrics-port': { type: 'string' },
  persistence: { type: 'string' },
  'http-host': { type: 'string' },
  'http-port': { type: 'string' },
  postgres: { type: 'string' },
  ...PLATFORM_OPTIONS,
  config: { type: 'string', short: 'c' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...SECURITY_OPTIONS,
} as const;

export function parseUpArgs(argv: string[]) {
  const { values } = parseCommandArgs('up', argv, OPTIONS);
  const security = securityFlags('up', values);
  const broker: DeepPartial<MqiotConfig['broker']> = {
    ...security.broker,
    host: values.host,
    port: portFlag('up', 'port', values.port, false) ?? undefined,
    wsPort: portFlag('up', 'ws-port', values['ws-port'], true),
    metricsPort: portFlag('up', 'metrics-port', values['metrics-port'], true),
    persistence: values.persistence,
  };
  if (values.persistence?.trim() === '')
    throw new CliError("up: --persistence expects a file or 'off', got ''");
  const overrides: DeepPartial<MqiotConfig> = { broker };
  if (values['log-level'] !== undefined)
    overrides.log = { level: values['log-level'] as MqiotConfig['log']['level'] };
  const platform: Partial<PlatformConfig> = { ...security.platform, ...platformFlags('up', values) };
  if (values.postgres !== undefined && !/^postgres(ql)?:\/\//.test(values.postgres)) {
    throw new CliError(`up: --postgres expects a postgres:// URL, got '${values.postgres}'`);
  }
  return {
    help: values.help === true,
    demo: values.demo === true,
    dataDir: resolve(values['data-dir'] ?? DEFAULT_DATA_DIR),
    httpHost: values['http-host'],
    /** Undefined: the configuration's `http.port` (file, MQIOT_HTTP_PORT, default). */
    httpPort: portFlag('up', 'http-port', values['http-port'], false) ?? undefined,
    postgres: values.postgres,
    file: values.config,
    overrides,
    platform,
  };
}

function storeFlag(args: { postgres?: string; dataDir: string }): string {
  return args.postgres ? '--postgres URL' : `--data-dir ${args.dataDir}`;
}

export async function run(argv: string[]): Promise<number> {
  const stopSignal = waitForStopSignal();
  const args = parseUpArgs(argv);
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  const config = loadCommandConfig({
    file: args.file,
    overrides: args.overrides,
    defaults: secureDefaults(args.demo),
  });
  const logger = createLogger({ level: config.log.level });
  const demo = args.demo ? (await import('../../app/demo-site.ts')).startDemoSite : undefined;
  const http = httpListenOptions(
    'up',
    config.http,
    args.httpHost ?? config.broker.host,
    args.httpPort ?? config.http.port,
  );
  let system;
  let announced = false;
  try {
    system = await startAllInOne({
      broker: config.broker,
      dataDir: args.dataDir,
      http,
      postgresUrl: args.postgres,
      platform: args.platform,
      logger,
      demo,
      announce: (text) => {
        announced = true;
        process.stderr.write(text);
      },
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new CliError(`up: cannot listen: ${e.message}`, 1, { cause: err });
    if (err instanceof SqliteStoreError) throw new CliError(`up: ${err.message}`, 1, { cause: err });
    throw err;
  }
  logger.info(
    { mqttUrl: system.mqttUrl, httpUrl: system.httpUrl, dataDir: args.dataDir, demo: args.demo },
    'mqiot up: running',
  );
  process.stderr.write(
    `mqiot up: MQTT ${system.mqttUrl}  dashboard ${system.httpUrl}/  API ${system.httpUrl}/api (OpenAPI: ${system.httpUrl}/api/docs)  data ${args.dataDir}` +
      `${args.demo ? '  (demo site running)' : ''}\n`,
  );
  if (!announced)
    process.stderr.write(
      `mqiot up: sign in at ${system.httpUrl}/ (first admin: 'admin', password from the first start or ` +
        `$MQIOT_ADMIN_PASSWORD; forgotten? mqiot user passwd admin ${storeFlag(args)})\n`,
    );
  const signal = await stopSignal;
  logger.info({ signal }, 'shutting down');
  await system.close();
  logger.info('stopped');
  setTimeout(() => process.exit(0), 1000).unref();
  return 0;
}
