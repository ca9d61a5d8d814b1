// Secure defaults shared by the commands that run a broker with the platform (`up`, `cloud`, `edge`):
// no anonymous MQTT and the gateway ACL on, unless the configuration file, the environment
// (MQIOT_BROKER_AUTH_ALLOW_ANONYMOUS=true) or `--allow-anonymous` asks for lab mode. `up --demo` keeps
// the zero-setup start: anonymous clients allowed (its own gateway logs in with issued credentials).
import type { DeepPartial, MqiotConfig } from '../app/config/index.ts';
import { UnknownGateways, type PlatformConfig } from '../app/commands/platform-options.ts';
import { CliError } from './errors.ts';

export const SECURITY_OPTIONS = {
  'allow-anonymous': { type: 'boolean' },
  'unknown-gateways': { type: 'string' },
  'relay-user': { type: 'string', multiple: true },
} as const;

export const SECURITY_HELP = `  --allow-anonymous       lab mode: MQTT clients without credentials may connect and publish on gateway
                          topics (default: refused; also MQIOT_BROKER_AUTH_ALLOW_ANONYMOUS=true)
  --unknown-gateways P    uplink from a gateway the registry does not know: register, pending (recorded,
                          refused until activated) or refuse (default: register — outside lab mode
                          only a login an operator created can publish for a gateway)
  --relay-user NAME       an MQTT user trusted to publish for any gateway: the login an 'mqiot edge'
                          site forwards its gateways' uplinks under (repeatable)`;

/** The command's defaults under file, environment and flags. */
export function secureDefaults(demo = false): DeepPartial<MqiotConfig> {
  return { broker: { auth: { allowAnonymous: demo, gatewayAcl: true } } };
}

export function securityFlags(
  command: string,
  values: { 'allow-anonymous'?: boolean; 'unknown-gateways'?: string; 'relay-user'?: string[] },
): { broker: DeepPartial<MqiotConfig['broker']>; platform: Partial<PlatformConfig> } {
  const platform: Partial<PlatformConfig> = {};
  const policy = values['unknown-gateways'];
  if (policy !== undefined) {
    const allowed = Object.values(UnknownGateways) as string[];
    if (!allowed.includes(policy))
      throw new CliError(`${command}: --unknown-gateways expects ${allowed.join(', ')}, got '${policy}'`);
    platform.unknownGateways = policy as UnknownGateways;
  }
  if (values['relay-user'] !== undefined) {
    if (values['relay-user'].some((u) => u.trim() === ''))
      throw new CliError(`${command}: --relay-user expects a user name`);
    platform.relayUsers = values['relay-user'];
  }
  const broker: DeepPartial<MqiotConfig['broker']> =
    values['allow-anonymous'] === true ? { auth: { allowAnonymous: true } } : {};
  return { broker, platform };
}
