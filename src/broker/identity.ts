/**
 * Who may use a client id (MQTT 5.0 §5.4.2: a server should check that a client is authorized to use
 * its Client Identifier, so one client cannot take another's session). Pure rules; the engine
 * (core.ts `admit`) applies them after authentication, before the session is touched.
 *
 * - `mqiot-gw-<id>` is reserved for the user `gw-<id>` (the gateway's own credentials). Another user
 *   name is refused with 0x85 Client Identifier not valid (3.1.1: 2, identifier rejected), the code
 *   the specification gives for "a valid string the server does not allow" and the one Mosquitto's
 *   `clientid_prefixes` answers with. An anonymous client may use it (it can only be there in lab
 *   mode, where anonymous clients are let in): it stays a lesser identity, never resumes gw-<id>'s
 *   session, and gw-<id> connecting takes the id back, ending the anonymous session unread.
 * - A session is resumed (or its connection taken over) only by the identity that owns it: the user
 *   name of the connection that made it, anonymous being an identity of its own. Anyone else is
 *   refused with 0x87 Not authorized (3.1.1: 5) while that session exists, connected or not: no
 *   session present, none of its messages, the owner stays connected.
 * - A session of an in-process (local) client belongs to the server: every network client is refused.
 * - A session restored from a store written before user names were kept has no known owner: the
 *   first identity to connect adopts it, and its queued messages are checked against that identity.
 */
import { GATEWAY_USERNAME_PREFIX } from './auth/gateway-acl.ts';
import { ReasonCode } from '../protocol/reason-codes.ts';

export const GATEWAY_CLIENT_ID_PREFIX = 'mqiot-gw-';

/** The user name a client id is reserved for, or undefined when anyone may use it. */
export function reservedFor(clientId: string): string | undefined {
  if (!clientId.startsWith(GATEWAY_CLIENT_ID_PREFIX)) return undefined;
  return GATEWAY_USERNAME_PREFIX + clientId.slice(GATEWAY_CLIENT_ID_PREFIX.length);
}

/** The session already under a client id, as far as its ownership goes. */
export interface ExistingSession {
  /** An in-process client's session (the server's own). */
  readonly isLocal: boolean;
  /** Its owner: `{ username }` (undefined = anonymous), or undefined when not known. */
  readonly owner: { readonly username: string | undefined } | undefined;
}

export type Admission =
  /** Go on; `reclaim`: the existing session belongs to someone else and is ended, not resumed. */
  | { readonly ok: true; readonly reclaim: boolean }
  /** Refuse the CONNECT; `reason` is a fixed key for rate-limited logging. */
  | {
      readonly ok: false;
      readonly reasonCode: number;
      readonly reasonString: string;
      readonly reason: string;
    };

const GO: Admission = Object.freeze({ ok: true, reclaim: false });
const RECLAIM: Admission = Object.freeze({ ok: true, reclaim: true });

/** Whether `username` (undefined = anonymous) may connect as `clientId`, given the session there. */
export function admitIdentity(
  clientId: string,
  username: string | undefined,
  existing: ExistingSession | undefined,
): Admission {
  const reserved = reservedFor(clientId);
  if (reserved !== undefined && username !== undefined && username !== reserved) {
    return {
      ok: false,
      reasonCode: ReasonCode.ClientIdentifierNotValid,
      reasonString: `client id ${GATEWAY_CLIENT_ID_PREFIX}* is reserved for its gateway's user`,
      reason: 'client-id-reserved',
    };
  }
  if (existing === undefined) return GO;
  if (existing.isLocal) return refusedOwner('client id in use by the server');
  const owner = existing.owner;
  if (owner === undefined || owner.username === username) return GO;
  // the gateway's own user takes its reserved id back from whoever else holds it
  if (reserved !== undefined && username === reserved) return RECLAIM;
  return refusedOwner('client id in use by another identity');
}

function refusedOwner(reasonString: string): Admission {
  return { ok: false, reasonCode: ReasonCode.NotAuthorized, reasonString, reason: 'client-id-owner' };
}
