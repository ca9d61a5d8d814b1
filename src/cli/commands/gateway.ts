// `mqiot gateway --config FILE`: a gateway polling real or simulated devices.
import { GatewayConfigError, loadGatewayFile, startGatewayProcess } from '../../app/commands/gateway.ts';
import { StartError } from '../../app/start-error.ts';
import { createLogger, LOG_LEVELS, type LogLevel } from '../../log.ts';
import { parseCommandArgs } from '../args.ts';
import { CliError } from '../errors.ts';
import { waitForStopSignal } from '../signals.ts';

export const summary = 'run a gateway: poll devices, batch frames into MQTT data groups, buffer offline';

const HELP = `usage: mqiot gateway --config FILE [options]

Polls the devices listed in FILE (YAML or JSON; see examples/gateway-*.yaml), wraps their raw frames
into data groups on mqiot/gw/{id}/up, executes commands and queries from mqiot/gw/{id}/down, reports
periodically and keeps everything in a disk queue while offline (docs/protocol.md).

options:
  -c, --config FILE     gateway configuration (required)
  --check               validate the configuration and exit
  --log-level LEVEL     ${LOG_LEVELS.join(', ')} (default info)
  -h, --help            show this help

environment: MQIOT_GATEWAY_MQTT_USERNAME, MQIOT_GATEWAY_MQTT_PASSWORD override the broker credentials.
SIGINT/SIGTERM stop gracefully: the queue is drained for up to 2 s and a will with reason "shutdown" is sent.`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  check: { type: 'boolean' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function run(argv: string[]): Promise<number> {
  const stopSignal = waitForStopSignal();
  const { values } = parseCommandArgs('gateway', argv, OPTIONS);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.config) throw new CliError('gateway: --config FILE is required (see mqiot gateway --help)');
  const level = values['log-level'];
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level))
    throw new CliError(`gateway: --log-level expects one of ${LOG_LEVELS.join(', ')}, got '${level}'`);
  let config;
  try {
    config = loadGatewayFile(values.config);
  } catch (err) {
    if (err instanceof GatewayConfigError) throw new CliError(`gateway: ${err.message}`, 2, { cause: err });
    throw err;
  }
  if (values.check) {
    console.log(`${values.config}: ok (gateway ${config.id}, ${config.devices.length} device(s))`);
    return 0;
  }
  const logger = createLogger({ name: 'mqiot-gateway', level: level as LogLevel | undefined });
  let gateway;
  try {
    gateway = await startGatewayProcess(config, logger);
  } catch (err) {
    if (err instanceof StartError) throw new CliError(`gateway: ${err.message}`, 1, { cause: err });
    throw err;
  }
  await stopSignal;
  await gateway.stop();
  return 0;
}
