// Who may speak for gateway X (docs/threat-model.md#gateways-and-mqtt). The topic names the gateway; the broker
// says who published. In process the broker hands the platform the publisher's identity with every
// message; over an external broker it does not, and the platform relies on that broker's ACLs.
import { GATEWAY_USERNAME_PREFIX } from '../../protocol/gateway-username.ts';

/** The publisher as the in-process broker reports it; `local`: an in-process client (trusted code). */
export interface Publisher {
  clientId: string;
  username: string | undefined;
  local: boolean;
}

/**
 * `undefined`: the path cannot know (external broker: its ACLs decide); `null`: the in-process broker
 * did not say (e.g. a will restored from the broker's store after a restart).
 */
export type PublisherInfo = Publisher | null | undefined;

export type Provenance =
  /** `trusted`: the sender is the gateway (or trusted code); an untrusted one may not anchor the seq window. */
  | { ok: true; trusted: boolean }
  | { ok: false; reason: 'another-gateway' | 'not-the-gateway' | 'anonymous' | 'unknown-publisher' };

/**
 * `requireIdentity`: only `gw-<id>` may publish for `<id>` (false in lab mode, where anonymous clients
 * may); `relays`: users trusted to forward any gateway's uplink (`mqiot edge` sites).
 */
export function judgeProvenance(
  gatewayId: string,
  publisher: PublisherInfo,
  requireIdentity: boolean,
  relays: readonly string[] = [],
): Provenance {
  if (publisher === undefined) return { ok: true, trusted: true };
  if (publisher === null)
    return requireIdentity ? { ok: false, reason: 'unknown-publisher' } : { ok: true, trusted: false };
  if (publisher.local) return { ok: true, trusted: true };
  const { username } = publisher;
  if (username === `${GATEWAY_USERNAME_PREFIX}${gatewayId}`) return { ok: true, trusted: true };
  if (username !== undefined && relays.includes(username)) return { ok: true, trusted: true };
  // another gateway's identity is never good for this one, lab mode or not
  if (username?.startsWith(GATEWAY_USERNAME_PREFIX)) return { ok: false, reason: 'another-gateway' };
  if (requireIdentity) return { ok: false, reason: username === undefined ? 'anonymous' : 'not-the-gateway' };
  return { ok: true, trusted: false };
}
