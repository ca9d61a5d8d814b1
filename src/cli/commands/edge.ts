// `mqiot edge`: a site broker with the contracts stage and a local platform (registry, store, API), bridged
// to a cloud broker: gateway uplinks go up through a disk queue (in order, nothing lost in an outage) and
// the cloud platform's downlinks come back down.
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import {
  DEFAULT_CONFIG,
  DEFAULT_HTTP_PORT,
  type DeepPartial,
  type MqiotConfig,
} from '../../app/config/index.ts';
import { createLogger } from '../../log.ts';
import { startAllInOne } from '../../app/all-in-one.ts';
import { startSiteLinks } from '../../app/edge/site-links.ts';
import { DEFAULT_EDGE_SYNC_MS } from '../../app/edge/edge-sync.ts';
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
  --cloud-api URL         the cloud platform's HTTP API: the edge keeps a replica of what its devices
                          need (registry, contracts, the rules that concern them, last known state),
                          runs those rules while the cloud link is down and reports its firings
                          upstream; needs a cloud API token (role operator) in MQIOT_CLOUD_API_TOKEN
  --sync-ms MS            how often the replica is synced (default ${DEFAULT_EDGE_SYNC_MS})
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
  'sync-ms': { type: 'string' },
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
  const stopSignal = waitForStopSignal();
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
  const syncMs = values['sync-ms'] === undefined ? DEFAULT_EDGE_SYNC_MS : Number(values['sync-ms']);
  if (!Number.isInteger(syncMs) || syncMs < 100)
    throw new CliError(`edge: --sync-ms expects milliseconds (at least 100), got '${values['sync-ms']}'`);
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
  const links = await startSiteLinks(system, {
    cloudUrl: values.cloud,
    edgeId,
    username: values.username ?? process.env.MQIOT_EDGE_USERNAME,
    password: values.password ?? process.env.MQIOT_EDGE_PASSWORD,
    dataDir,
    forwardTelemetry: values['forward-telemetry'] === true,
    cloudApiUrl: values['cloud-api'],
    cloudApiToken: process.env.MQIOT_CLOUD_API_TOKEN || undefined,
    syncMs,
    logger,
  });
  logger.info(
    { mqttUrl: system.mqttUrl, httpUrl: system.httpUrl, cloud: values.cloud, edgeId },
    'mqiot edge: running',
  );
  const signal = await stopSignal;
  logger.info({ signal, queued: links.queued }, 'shutting down');
  await links.close();
  await system.close();
  setTimeout(() => process.exit(0), 1000).unref();
  return 0;
}
