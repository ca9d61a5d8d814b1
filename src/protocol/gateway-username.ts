// How a gateway names itself to the broker: the MQTT username `gw-<id>`. The broker's gateway rule,
// the platform's credentials and provenance check, and exported Mosquitto files all read it this way.

/** `gw-` + gateway id. (mosquitto_passwd refuses ':' in usernames, so not `gw:`.) */
export const GATEWAY_USERNAME_PREFIX = 'gw-';

/** The gateway id a username names, undefined when it is not a gateway username. */
export function gatewayIdOfUsername(username: string | undefined): string | undefined {
  if (username === undefined || !username.startsWith(GATEWAY_USERNAME_PREFIX)) return undefined;
  return username.slice(GATEWAY_USERNAME_PREFIX.length);
}

/**
 * Why a gateway username cannot be written to a Mosquitto password file (where the platform's
 * credentials can be exported): `:` separates the username from the hash, and a line holds one user.
 */
export function checkGatewayUsername(username: string): string | undefined {
  if (username.includes(':')) return "a username must not contain ':'";
  if (/[\r\n]/.test(username)) return 'a username must not contain a line break';
  return undefined;
}
