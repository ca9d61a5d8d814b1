// How a gateway names itself to the broker: the MQTT username `gw-<id>`. The broker's gateway rule,
// the platform's credentials and provenance check, and exported Mosquitto files all read it this way.

/** `gw-` + gateway id. (mosquitto_passwd refuses ':' in usernames, so not `gw:`.) */
export const GATEWAY_USERNAME_PREFIX = 'gw-';

/** The gateway id a username names, undefined when it is not a gateway username. */
export function gatewayIdOfUsername(username: string | undefined): string | undefined {
  if (username === undefined || !username.startsWith(GATEWAY_USERNAME_PREFIX)) return undefined;
  return username.slice(GATEWAY_USERNAME_PREFIX.length);
}
