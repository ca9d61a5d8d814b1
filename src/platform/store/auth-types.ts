// The store's part for people: users, their session and API tokens (stored as SHA-256 hashes), and
// the audit trail of state-changing requests.
import type { Role } from '../auth/roles.ts';
import type { TokenKind } from '../auth/tokens.ts';
import type { Page } from './page.ts';

export interface UserRecord {
  username: string;
  /** `scrypt$N$r$p$salt$hash` (src/platform/auth/password.ts). */
  passwordHash: string;
  role: Role;
  createdAt: number;
  updatedAt: number;
}

export interface TokenRecord {
  id: string;
  /** SHA-256 (hex) of the token; the token itself is never stored. */
  hash: string;
  kind: TokenKind;
  /** Name given to an API token (null for sessions). */
  name: string | null;
  username: string;
  role: Role;
  createdAt: number;
  /** null: an API token without expiry. */
  expiresAt: number | null;
  lastUsedAt: number | null;
}

export const AuditResult = { Ok: 'ok', Denied: 'denied', Failed: 'failed' } as const;
export type AuditResult = (typeof AuditResult)[keyof typeof AuditResult];

export interface AuditRecord {
  id: number;
  ts: number;
  /** Who: the user (or, for a login, the name that was tried); null when unknown. */
  username: string | null;
  /** The API token used, when not a session. */
  tokenId: string | null;
  address: string | null;
  method: string;
  /** The request path as sent (query string included). */
  path: string;
  /** What, as a stable name such as `device.command` or `auth.login`. */
  action: string;
  /** The id the action was about (device, rule, user, token ...), when there is one. */
  target: string | null;
  status: number;
  result: AuditResult;
  /** A few words on the change (e.g. a command's action), never a password or token. */
  detail: Record<string, unknown> | null;
}
export type AuditInput = Omit<AuditRecord, 'id'>;

export interface AuditFilter {
  username?: string;
  action?: string;
  result?: AuditResult;
  target?: string;
  from?: number;
  to?: number;
  offset?: number;
  limit?: number;
}

export interface AuthStore {
  countUsers(): Promise<number>;
  getUser(username: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<UserRecord[]>;
  /** Returns false when the user name is taken. */
  createUser(user: UserRecord): Promise<boolean>;
  updateUser(
    username: string,
    patch: { passwordHash?: string; role?: Role },
    now: number,
  ): Promise<UserRecord | undefined>;
  /** Deletes the user and every token of theirs; returns true when the user existed. */
  deleteUser(username: string): Promise<boolean>;

  saveToken(token: TokenRecord): Promise<void>;
  /** The token with this hash and its user's current record (a token whose user is gone is not found). */
  findToken(hash: string): Promise<{ token: TokenRecord; user: UserRecord } | undefined>;
  listTokens(filter: { username?: string; kind?: TokenKind }): Promise<TokenRecord[]>;
  getToken(id: string): Promise<TokenRecord | undefined>;
  deleteToken(id: string): Promise<boolean>;
  /** Deletes a user's tokens (of one kind); returns how many. */
  deleteUserTokens(username: string, kind?: TokenKind): Promise<number>;
  deleteExpiredTokens(now: number): Promise<number>;
  touchToken(id: string, at: number): Promise<void>;

  addAudit(entry: AuditInput): Promise<void>;
  listAudit(filter: AuditFilter): Promise<Page<AuditRecord>>;
}
