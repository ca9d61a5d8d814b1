// `mqiot broker`: the MQTT broker alone, with its TCP, WebSocket, TLS and metrics listeners.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Broker } from '../../broker/broker.ts';
import type { SqliteSessionStore } from '../../broker/store/sqlite.ts';
import { AuthFileError, BrokerAuth, reloadOnSighup } from '../../broker/auth/index.ts';
import { startListeners, type Listener } from '../../app/listeners.ts';
import { SysPublisher } from '../../broker/sys.ts';
import {
  DEFAULT_CONFIG,
  persistencePath,
  type DeepPartial,
  type MqiotConfig,
} from '../../app/config/index.ts';
import { createLogger, type Logger } from '../../log.ts';
import { parseCommandArgs } from '../args.ts';
import { CliError } from '../errors.ts';
import { waitForStopSignal } from '../signals.ts';
import { loadCommandConfig } from '../config.ts';

export const summary = 'run the MQTT broker alone (TCP, WebSocket, TLS, /metrics, $SYS)';

const HELP = `usage: mqiot broker [options]

Runs the MQTT 3.1/3.1.1/5.0 broker.

options:
  --host HOST           interface to listen on (default ${DEFAULT_CONFIG.broker.host}: all interfaces)
  --port PORT           MQTT over TCP (default ${DEFAULT_CONFIG.broker.port})
  --ws-port PORT|off    MQTT over WebSocket, subprotocol "mqtt" (default ${DEFAULT_CONFIG.broker.wsPort})
  --metrics-port PORT|off
                        Prometheus text on http://HOST:PORT/metrics (default ${DEFAULT_CONFIG.broker.metricsPort})
  --persistence FILE|off
                        keep sessions, queued QoS 1/2 messages and retained messages in this SQLite
                        file, so a restart or crash loses nothing acknowledged (default off: memory)
  --password-file FILE  Mosquitto password file (mqiot passwd or mosquitto_passwd writes it): a client
                        giving a username must give its password
  --acl-file FILE       Mosquitto ACL file (topic / pattern / user lines): which topics each client may
                        publish to and subscribe to
  --no-anonymous        refuse clients without a username (default: allowed; production: refuse)
  --gateway-acl         username gw-<id> may only publish to mqiot/gw/<id>/up and subscribe to
                        mqiot/gw/<id>/down
  --config FILE         YAML or JSON configuration (see config/mqiot.example.yaml)
  --log-level LEVEL     trace, debug, info, warn, error, fatal or silent (default ${DEFAULT_CONFIG.log.level})
  -h, --help            show this help

Every setting can also come from the environment, e.g. MQIOT_BROKER_PORT=1884,
MQIOT_BROKER_MQTT_MAX_KEEP_ALIVE=60, MQIOT_BROKER_PERSISTENCE=/var/lib/mqiot/broker.db. Precedence: flags > environment > file > defaults.
SIGINT/SIGTERM stop the broker gracefully (MQTT 5 clients receive DISCONNECT 0x8B). SIGHUP re-reads the
password and ACL files.`;

const OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  'ws-port': { type: 'string' },
  'metrics-port': { type: 'string' },
  persistence: { type: 'string' },
  'password-file': { type: 'string' },
  'acl-file': { type: 'string' },
  'no-anonymous': { type: 'boolean' },
  'gateway-acl': { type: 'boolean' },
  config: { type: 'string', short: 'c' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** How long shutdown waits for connections to end after broker.close() before destroying them. */
const SHUTDOWN_GRACE_MS = 2000;

function portFlag(flag: string, value: string | undefined, allowOff: boolean): number | null | undefined {
  if (value === undefined) return undefined;
  if (allowOff && /^(off|none)$/i.test(value)) return null;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) {
    throw new CliError(
      `broker: --${flag} expects a port number 0..65535${allowOff ? " or 'off'" : ''}, got '${value}'`,
    );
  }
  return n;
}

function persistenceFlag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') throw new CliError("broker: --persistence expects a file or 'off', got ''");
  return value;
}

/**
 * The durable store of `broker.persistence`, or undefined for memory (`off`, and `auto` for this command).
 * Imported only when asked for: a broker in memory loads no SQLite code.
 */
async function openStore(config: MqiotConfig, logger: Logger): Promise<SqliteSessionStore | undefined> {
  const path = persistencePath(config.broker.persistence, null);
  if (path === null) return undefined;
  const { SqliteSessionStore, SqliteStoreError } = await import('../../broker/store/sqlite.ts');
  try {
    return new SqliteSessionStore({
      path: resolve(path),
      logger: logger.child({ component: 'broker-store' }),
    });
  } catch (err) {
    if (err instanceof SqliteStoreError) throw new CliError(`broker: ${err.message}`, 1, { cause: err });
    throw err;
  }
}

/** The password / ACL files of `broker.auth`, loaded; a bad file is a user error naming file and line. */
function openAuth(config: MqiotConfig, logger: Logger): BrokerAuth {
  try {
    return new BrokerAuth(config.broker.auth, { logger: logger.child({ component: 'broker-auth' }) });
  } catch (err) {
    if (err instanceof AuthFileError) throw new CliError(`broker: ${err.message}`, 1, { cause: err });
    throw err;
  }
}

export function parseBrokerArgs(argv: string[]): {
  help: boolean;
  file?: string;
  overrides: DeepPartial<MqiotConfig>;
} {
  const { values } = parseCommandArgs('broker', argv, OPTIONS);
  const broker: DeepPartial<MqiotConfig['broker']> = {
    host: values.host,
    port: portFlag('port', values.port, false) ?? undefined,
    wsPort: portFlag('ws-port', values['ws-port'], true),
    metricsPort: portFlag('metrics-port', values['metrics-port'], true),
    persistence: persistenceFlag(values.persistence),
    auth: {
      passwordFile: values['password-file'],
      aclFile: values['acl-file'],
      allowAnonymous: values['no-anonymous'] === true ? false : undefined,
      gatewayAcl: values['gateway-acl'] === true ? true : undefined,
    },
  };
  const overrides: DeepPartial<MqiotConfig> = { broker };
  if (values['log-level'] !== undefined)
    overrides.log = { level: values['log-level'] as MqiotConfig['log']['level'] };
  return { help: values.help === true, file: values.config, overrides };
}

/** The version in package.json: three folders up from src/cli/commands/, one up from the built dist/. */
function packageVersion(): string {
  for (const path of ['../../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'mqiot') return pkg.version ?? '0.0.0';
    } catch {
      // not there: try the next place
    }
  }
  return '0.0.0';
}

export async function run(argv: string[]): Promise<number> {
  const args = parseBrokerArgs(argv);
  if (args.help) {
    console.log(HELP);
    return 0;
  }
  const config = loadCommandConfig({ file: args.file, overrides: args.overrides });
  const logger = createLogger({ level: config.log.level });
  const version = packageVersion();
  const auth = openAuth(config, logger);
  const store = await openStore(config, logger);
  const broker = new Broker(config.broker.mqtt, {
    logger: logger.child({ component: 'broker' }),
    store,
    hooks: auth.hooks,
  });
  logger.info(auth.describe(), 'broker auth');
  const stopReload = reloadOnSighup(auth, logger);
  logger.info({ persistence: store?.path ?? 'memory' }, 'broker store');
  let listeners: Listener[];
  try {
    listeners = await startListeners(broker, config.broker, logger.child({ component: 'server' }));
  } catch (err) {
    await broker.close();
    const e = err as NodeJS.ErrnoException;
    throw new CliError(`broker: cannot listen: ${e.message}`, 1, { cause: err });
  }
  const sys = new SysPublisher(broker, { interval: config.broker.sys.interval, version: `mqiot ${version}` });
  sys.start();
  logger.info({ version, pid: process.pid }, 'broker started');
  const signal = await waitForStopSignal();
  logger.info({ signal }, 'shutting down');
  stopReload();
  await shutdown(broker, listeners, sys, logger);
  logger.info('broker stopped');
  // Nothing should keep the loop alive now; if a stray handle does, do not hang the terminal.
  setTimeout(() => process.exit(0), 1000).unref();
  return 0;
}

/** Stop accepting, let the broker say goodbye (v5: DISCONNECT 0x8B), then wait for the sockets to go. */
async function shutdown(
  broker: Broker,
  listeners: Listener[],
  sys: SysPublisher,
  logger: Logger,
): Promise<void> {
  for (const l of listeners) l.stopAccepting();
  sys.stop();
  try {
    await broker.close();
  } catch (err) {
    logger.error({ err }, 'broker close failed');
  }
  await Promise.all(listeners.map((l) => l.drain(SHUTDOWN_GRACE_MS)));
}
