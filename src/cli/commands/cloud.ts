// `mqiot cloud`: the cloud platform (registry, store, commands, HTTP API). With `--broker URL` it attaches
// to an external MQTT 5 broker and shares the uplinks with other instances through a shared subscription;
// without it, it runs its own broker (like `mqiot up`, without the demo site).
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { DEFAULT_CONFIG, DEFAULT_HTTP_PORT, type MqiotConfig } from '../../app/config/index.ts';
import { createLogger } from '../../log.ts';
import { startAllInOne } from '../../app/all-in-one.ts';
import { startPlatformApp } from '../../app/platform-app.ts';
import type { PlatformConfig } from '../../app/commands/platform-options.ts';
import { listenPlatformMetrics } from '../../app/metrics-listener.ts';
import { intFlag, parseCommandArgs, portFlag } from '../args.ts';
import { CliError } from '../errors.ts';
import { waitForStopSignal } from '../signals.ts';
import { loadCommandConfig } from '../config.ts';
import { httpListenOptions } from '../http-options.ts';
import { SECURITY_HELP, SECURITY_OPTIONS, secureDefaults, securityFlags } from '../gateway-security.ts';
import { PLATFORM_HELP, PLATFORM_OPTIONS, platformFlags } from '../platform-flags.ts';

export const summary = 'the cloud platform: own broker, or an external MQTT 5 broker with shared ingest';

const DEFAULT_SHARE_GROUP = 'mqiot-platform';

const HELP = `usage: mqiot cloud [options]

Runs the platform (decoding, registry, telemetry store, commands, HTTP API).

options:
  --broker URL            attach to this MQTT 5 broker (mqtt://, mqtts://, ws://) instead of running one
  --share GROUP|off       shared subscription group for the uplinks, so several instances split the load
                          (default ${DEFAULT_SHARE_GROUP}; only with --broker)
  --instance-id ID        MQTT client id suffix of this instance (default: host name and pid)
  --session-expiry S      seconds the broker keeps this instance's session while it is away (default 0:
                          none, so another instance takes over at once and gateways resend what was not
                          acknowledged; > 0 parks uplinks at the broker, for gateways older than data acks)
  --username U, --password P   broker credentials (or MQIOT_CLOUD_USERNAME / MQIOT_CLOUD_PASSWORD)
  --postgres URL          store in PostgreSQL (recommended when several instances share the load)
  --data-dir DIR          SQLite database directory otherwise (default ./data)
  --http-host HOST        interface for the HTTP API (default 0.0.0.0)
  --http-port PORT        HTTP API and OpenAPI document at /api/docs (default ${DEFAULT_HTTP_PORT}, or
                          http.port / $MQIOT_HTTP_PORT)
  --port PORT             MQTT port of the own broker (default ${DEFAULT_CONFIG.broker.port}; without --broker)
  --ws-port PORT|off      MQTT over WebSocket of the own broker (default ${DEFAULT_CONFIG.broker.wsPort}; without --broker)
  --metrics-port PORT|off Prometheus /metrics of broker and platform (default ${DEFAULT_CONFIG.broker.metricsPort});
                          with --broker: of the platform, default off
  --metrics-host HOST     interface of /metrics with --broker (default 127.0.0.1)
${PLATFORM_HELP}
${SECURITY_HELP}
                          (with --broker, that broker's password and ACL files decide who publishes:
                          see 'mqiot gateways export-passwd')
  --log-level LEVEL       trace, debug, info, warn, error, fatal or silent
  --config FILE           configuration file (YAML/JSON): broker.*, http.* (HTTPS, allowed host names)
  -h, --help              show this help

Sign-in: a store without users gets 'admin' with $MQIOT_ADMIN_PASSWORD, or a random password printed
once; manage users with 'mqiot user' on the same store.`;

const OPTIONS = {
  broker: { type: 'string' },
  share: { type: 'string' },
  'instance-id': { type: 'string' },
  'session-expiry': { type: 'string' },
  username: { type: 'string' },
  password: { type: 'string' },
  postgres: { type: 'string' },
  'data-dir': { type: 'string' },
  'http-host': { type: 'string' },
  'http-port': { type: 'string' },
  port: { type: 'string' },
  'ws-port': { type: 'string' },
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
  ...PLATFORM_OPTIONS,
  'log-level': { type: 'string' },
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  ...SECURITY_OPTIONS,
} as const;

export async function run(argv: string[]): Promise<number> {
  const stopSignal = waitForStopSignal();
  const { values } = parseCommandArgs('cloud', argv, OPTIONS);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.broker !== undefined && !/^(mqtts?|tcp|ssl|tls|wss?):\/\/[^/]+/.test(values.broker)) {
    throw new CliError(`cloud: --broker expects a URL like mqtt://host:1883, got '${values.broker}'`);
  }
  if (values.postgres !== undefined && !/^postgres(ql)?:\/\//.test(values.postgres)) {
    throw new CliError(`cloud: --postgres expects a postgres:// URL, got '${values.postgres}'`);
  }
  const share =
    values.share === undefined
      ? DEFAULT_SHARE_GROUP
      : /^(off|none)$/i.test(values.share)
        ? undefined
        : values.share;
  if (share !== undefined && !/^[^/+#]+$/.test(share))
    throw new CliError(`cloud: --share: a group name cannot contain '/', '+' or '#'`);
  const security = securityFlags('cloud', values);
  const platform: Partial<PlatformConfig> = { ...security.platform, ...platformFlags('cloud', values) };
  const httpPort = portFlag('cloud', 'http-port', values['http-port'], false);
  const sessionExpiry = intFlag('cloud', 'session-expiry', values['session-expiry'], 0, 0xffffffff);
  const httpHost = values['http-host'] ?? '0.0.0.0';
  const dataDir = resolve(values['data-dir'] ?? 'data');
  const port = portFlag('cloud', 'port', values.port, false);
  const wsPort = portFlag('cloud', 'ws-port', values['ws-port'], true);
  const metricsPort = portFlag('cloud', 'metrics-port', values['metrics-port'], true);
  const config = loadCommandConfig({
    file: values.config,
    defaults: secureDefaults(),
    overrides: {
      broker: {
        ...security.broker,
        ...(port === undefined || port === null ? {} : { port }),
        ...(wsPort === undefined ? {} : { wsPort }),
        ...(metricsPort === undefined ? {} : { metricsPort }),
      },
      ...(values['log-level'] ? { log: { level: values['log-level'] as MqiotConfig['log']['level'] } } : {}),
    },
  });
  const logger = createLogger({ level: config.log.level });
  const http = httpListenOptions('cloud', config.http, httpHost, httpPort ?? config.http.port);

  let close: () => Promise<void>;
  if (values.broker) {
    const instance = values['instance-id'] ?? `${hostname()}-${process.pid}`;
    const app = await startPlatformApp({
      dataDir,
      postgresUrl: values.postgres,
      config: platform,
      logger,
      http,
      mqtt: {
        url: values.broker,
        clientId: `mqiot-platform-${instance}`,
        username: values.username ?? process.env.MQIOT_CLOUD_USERNAME,
        password: values.password ?? process.env.MQIOT_CLOUD_PASSWORD,
        shareGroup: share,
        ...(sessionExpiry === undefined ? {} : { sessionExpiry }),
      },
    }).catch((err: Error) => {
      throw new CliError(`cloud: cannot start: ${err.message}`, 1, { cause: err });
    });
    const metrics =
      metricsPort === null || metricsPort === undefined
        ? undefined
        : await listenPlatformMetrics(
            app.platform.metrics,
            values['metrics-host'] ?? '127.0.0.1',
            metricsPort,
            logger.child({ component: 'server' }),
          ).catch(async (err: Error) => {
            await app.close();
            throw new CliError(`cloud: cannot start /metrics: ${err.message}`, 1, { cause: err });
          });
    logger.info(
      { broker: values.broker, share, httpUrl: app.url, instance, metricsPort: metrics?.port },
      'mqiot cloud: running',
    );
    close = async () => {
      metrics?.stopAccepting();
      await metrics?.drain(0);
      await app.close();
    };
  } else {
    const system = await startAllInOne({
      broker: config.broker,
      dataDir,
      http,
      postgresUrl: values.postgres,
      platform,
      logger,
    });
    logger.info({ mqttUrl: system.mqttUrl, httpUrl: system.httpUrl }, 'mqiot cloud: running');
    close = () => system.close();
  }
  const signal = await stopSignal;
  logger.info({ signal }, 'shutting down');
  await close();
  setTimeout(() => process.exit(0), 1000).unref();
  return 0;
}
