// `mqiot edge`: a site broker with the contracts stage and a local platform (registry, store, API), bridged
// to a cloud broker: gateway uplinks go up through a disk queue (in order, nothing lost in an outage) and
// the cloud platform's downlinks come back down.
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import {
  DEFAULT_CONFIG,
  DEFAULT_HTTP_PORT,
  type DeepPartial,
  type MqiotConfig,
} from '../../app/config/index.ts';
import { createLogger } from '../../log.ts';
import { startAllInOne } from '../../app/all-in-one.ts';
import { CloudLink } from '../../app/edge/cloud-link.ts';
import { RulesMirror } from '../../platform/rules/rules-mirror.ts';
import { parseCommandArgs, portFlag } from '../args.ts';
import { CliError } from '../errors.ts';
import { waitForStopSignal } from '../signals.ts';
import { loadCommandConfig } from '../config.ts';
import { httpListenOptions } from '../http-options.ts';
import { SECURITY_HELP, SECURITY_OPTIONS, secureDefaults, securityFlags } from '../gateway-security.ts';
import { PLATFORM_HELP, PLATFORM_OPTIONS, platformFlags } from '../platform-flags.ts';

export const summary = 'site broker with contracts and a local platform, bridged to a cloud broker';

const HELP = `usage: mqiot edge --cloud URL [options]

Runs a broker for the site's gateways, decodes and stores their data locally (HTTP API included), and
forwards every gateway uplink to the cloud broker through a disk queue; downlinks from the cloud
platform are passed to the gateways.

options:
  --cloud URL             the cloud MQTT broker (mqtt://, mqtts://, ws://) — required
  --edge-id ID            this edge's name at the cloud broker (default: host name)
  --username U, --password P   cloud broker credentials (or MQIOT_EDGE_USERNAME / MQIOT_EDGE_PASSWORD)
  --forward-telemetry     also forward decoded readings (mqiot/dev/+/telemetry)
  --cloud-api URL         the cloud platform's HTTP API: its linkage rules are copied here (every
                          minute, last copy kept) and run by the edge while the cloud link is down;
                          needs a cloud API token (viewer is enough) in MQIOT_CLOUD_API_TOKEN
  --data-dir DIR          database and forward queue (default ./data)
  --postgres URL          store in PostgreSQL instead of SQLite (the forward queue stays in --data-dir)
  --host HOST, --port PORT   the site broker's MQTT listener (default ${DEFAULT_CONFIG.broker.host}:${DEFAULT_CONFIG.broker.port})
  --ws-port PORT|off      the site broker's MQTT over WebSocket (default ${DEFAULT_CONFIG.broker.wsPort})
  --metrics-port PORT|off Prometheus /metrics of broker and platform (default ${DEFAULT_CONFIG.broker.metricsPort})
  --http-port PORT        local HTTP API (default ${DEFAULT_HTTP_PORT}, or http.port / $MQIOT_HTTP_PORT)
${PLATFORM_HELP}
${SECURITY_HELP}
  --log-level LEVEL       trace, debug, info, warn, error, fatal or silent
  --config FILE           configuration file (YAML/JSON): broker.*, http.* (HTTPS, allowed host names)
  -h, --help              show this help

Sign-in: a store without users gets 'admin' with $MQIOT_ADMIN_PASSWORD, or a random password printed
once; manage users with 'mqiot user' on the same store.`;

const OPTIONS = {
  cloud: { type: 'string' },
  'edge-id': { type: 'string' },
  username: { type: 'string' },
  password: { type: 'string' },
  'forward-telemetry': { type: 'boolean' },
  'cloud-api': { type: 'string' },
  'data-dir': { type: 'string' },
  postgres: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'ws-port': { type: 'string' },
  'metrics-port': { type: 'string' },
  'http-port': { type: 'string' },
  ...PLATFORM_OPTIONS,
  'log-level': { type: 'string' },
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  ...SECURITY_OPTIONS,
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('edge', argv, OPTIONS);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.cloud) throw new CliError('edge: --cloud URL is required (the cloud MQTT broker)');
  if (!/^(mqtts?|tcp|ssl|tls|wss?):\/\/[^/]+/.test(values.cloud)) {
    throw new CliError(`edge: --cloud expects a URL like mqtt://cloud.example:1883, got '${values.cloud}'`);
  }
  if (values['cloud-api'] !== undefined && !/^https?:\/\/[^/]+/.test(values['cloud-api'])) {
    throw new CliError(
      `edge: --cloud-api expects a URL like http://cloud.example:8080, got '${values['cloud-api']}'`,
    );
  }
  if (values.postgres !== undefined && !/^postgres(ql)?:\/\//.test(values.postgres)) {
    throw new CliError(`edge: --postgres expects a postgres:// URL, got '${values.postgres}'`);
  }
  const security = securityFlags('edge', values);
  const platform = { ...security.platform, ...platformFlags('edge', values) };
  const httpPort = portFlag('edge', 'http-port', values['http-port'], false);
  const overrides: DeepPartial<MqiotConfig> = {
    broker: {
      ...security.broker,
      host: values.host,
      port: portFlag('edge', 'port', values.port, false) ?? undefined,
      wsPort: portFlag('edge', 'ws-port', values['ws-port'], true),
      metricsPort: portFlag('edge', 'metrics-port', values['metrics-port'], true),
    },
  };
  if (values['log-level']) overrides.log = { level: values['log-level'] as MqiotConfig['log']['level'] };
  const config = loadCommandConfig({ file: values.config, overrides, defaults: secureDefaults() });
  const logger = createLogger({ level: config.log.level });
  const dataDir = resolve(values['data-dir'] ?? 'data');
  const system = await startAllInOne({
    broker: config.broker,
    dataDir,
    http: httpListenOptions('edge', config.http, config.broker.host, httpPort ?? config.http.port),
    postgresUrl: values.postgres,
    platform,
    logger,
  });
  const edgeId = values['edge-id'] ?? hostname();
  const link = new CloudLink(system.broker, {
    cloudUrl: values.cloud,
    clientId: `mqiot-edge-${edgeId}`,
    username: values.username ?? process.env.MQIOT_EDGE_USERNAME,
    password: values.password ?? process.env.MQIOT_EDGE_PASSWORD,
    queuePath: join(dataDir, 'forward-queue.db'),
    forwardTelemetry: values['forward-telemetry'] === true,
    logger: logger.child({ component: 'cloud-link' }),
  });
  link.start();
  const rules = values['cloud-api']
    ? new RulesMirror(
        { engine: system.app.platform.rules, store: system.app.store, clock: system.app.platform.clock },
        {
          cloudApiUrl: values['cloud-api'],
          cloudApiToken: process.env.MQIOT_CLOUD_API_TOKEN || undefined,
          cloudUp: () => link.connected,
          logger: logger.child({ component: 'rules-mirror' }),
        },
      )
    : undefined;
  await rules?.start();
  logger.info(
    { mqttUrl: system.mqttUrl, httpUrl: system.httpUrl, cloud: values.cloud, edgeId },
    'mqiot edge: running',
  );
  const signal = await waitForStopSignal();
  logger.info({ signal, queued: link.queue.depth }, 'shutting down');
  await rules?.stop();
  await link.close();
  await system.close();
  setTimeout(() => process.exit(0), 1000).unref();
  return 0;
}
