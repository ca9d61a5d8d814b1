// Session and API tokens are opaque random strings; only their SHA-256 is stored. A token has 256 bits
// of entropy, so a fast hash is enough (nothing to guess offline), and any instance sharing the store
// can check a token by hashing it: there is no instance-local signing secret.
import { createHash, randomBytes } from 'node:crypto';

export const TokenKind = { Session: 'session', Api: 'api' } as const;
export type TokenKind = (typeof TokenKind)[keyof typeof TokenKind];

/** Prefixes make a leaked token recognisable (secret scanners, logs): `mqs_` session, `mqt_` API. */
const PREFIX: Record<TokenKind, string> = { session: 'mqs_', api: 'mqt_' };
/** Longest token accepted from a request: anything longer is not ours and is not hashed. */
export const MAX_TOKEN_LENGTH = 128;

export function newToken(kind: TokenKind): string {
  return PREFIX[kind] + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A short public id for listing and revoking a token (not derived from the secret). */
export function newTokenId(): string {
  return randomBytes(9).toString('base64url');
}
