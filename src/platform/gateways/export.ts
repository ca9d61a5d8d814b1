// Mosquitto-compatible files for an external broker (`mqiot gateways export-passwd`): the registry's
// gateway credentials as a password file (the stored `$7$` hashes, as mosquitto_passwd writes them) and
// an ACL file that confines each gateway to its two topics, as `--gateway-acl` does in mqiot's broker.
import {
  ALL_ALARMS_FILTER,
  gatewayDownTopic,
  gatewayUpTopic,
  ALL_GATEWAYS_UP_FILTER,
} from '../../protocol/gateway-topics.ts';
import { GATEWAY_USERNAME_PREFIX } from '../../protocol/gateway-username.ts';
import { gatewayUsername } from './credentials.ts';
import type { GatewayCredentialRow } from '../store/types.ts';

/**
 * The password file's text: lines of other users in `existing` are kept as they are; every `gw-` line
 * is replaced by the registry's (so a revoked gateway's line disappears).
 */
export function passwordFileText(rows: readonly GatewayCredentialRow[], existing = ''): string {
  const kept = existing
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '' && !l.startsWith(GATEWAY_USERNAME_PREFIX));
  const lines = [...kept, ...rows.map((r) => `${gatewayUsername(r.gatewayId)}:${r.hash}`)];
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/**
 * ACL text: each gateway writes only its up topic and reads only its down topic; `platformUser`
 * (the user `mqiot cloud --broker` logs in as) reads every uplink and writes downlinks, decoded
 * telemetry and alarm events. Mosquitto denies everything not granted once an ACL file is in use.
 */
export function aclFileText(rows: readonly GatewayCredentialRow[], platformUser?: string): string {
  const out = ['# written by mqiot gateways export-passwd: one block per gateway'];
  if (platformUser) {
    out.push(
      '',
      `user ${platformUser}`,
      `topic read ${ALL_GATEWAYS_UP_FILTER}`,
      'topic write mqiot/gw/+/down',
      'topic write mqiot/dev/+/telemetry',
      `topic write ${ALL_ALARMS_FILTER}`,
    );
  }
  for (const r of rows) {
    out.push(
      '',
      `user ${gatewayUsername(r.gatewayId)}`,
      `topic write ${gatewayUpTopic(r.gatewayId)}`,
      `topic read ${gatewayDownTopic(r.gatewayId)}`,
    );
  }
  return `${out.join('\n')}\n`;
}
