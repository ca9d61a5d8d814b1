// People and their credentials: users, logins (rate-limited), session and API tokens, and the check of
// a presented token. Everything it knows lives in the store, so several instances sharing one
// PostgreSQL accept each other's tokens; only the login rate limit is per instance.
import type { Clock } from '../clock.ts';
import {
  ForbiddenError,
  NotFoundError,
  PlatformError,
  PlatformErrorCode,
  RateLimitedError,
  UnauthorizedError,
} from '../errors.ts';
import type { TokenRecord, UserRecord } from '../store/auth-types.ts';
import type { PlatformStore } from '../store/types.ts';
import { dummyHash, hashPassword, passwordProblem, usernameProblem, verifyPassword } from './password.ts';
import { FailureLimiter, type RateLimitOptions } from './rate-limit.ts';
import { isRole, lowerRole, Role, roleAtLeast } from './roles.ts';
import { hashToken, MAX_TOKEN_LENGTH, newToken, newTokenId, TokenKind } from './tokens.ts';

export const DEFAULT_SESSION_TTL_MS = 12 * 3600_000;
/** A used token's last-use time is written at most this often (not on every request). */
const TOUCH_EVERY_MS = 60_000;
export const DEFAULT_LOGIN_LIMITS = {
  /** Guessing one user's password: 5 failures per 15 minutes. */
  perUser: { max: 5, windowMs: 15 * 60_000 },
  /** Spraying many users from one address: 20 failures per 15 minutes. */
  perAddress: { max: 20, windowMs: 15 * 60_000 },
} as const;

export interface AuthOptions {
  sessionTtlMs?: number;
  loginLimits?: { perUser: RateLimitOptions; perAddress: RateLimitOptions };
}

/** Who is making a request. */
export interface Principal {
  username: string;
  /** The effective role: the token's, capped by the user's current role. */
  role: Role;
  tokenId: string;
  kind: TokenKind;
  expiresAt: number | null;
}

/** A user as the API shows it (never the password hash). */
export interface PublicUser {
  username: string;
  role: Role;
  createdAt: number;
  updatedAt: number;
}

export type PublicToken = Omit<TokenRecord, 'hash'>;

export function publicUser(u: UserRecord): PublicUser {
  return { username: u.username, role: u.role, createdAt: u.createdAt, updatedAt: u.updatedAt };
}

export function publicToken(t: TokenRecord): PublicToken {
  const { hash: _hash, ...rest } = t;
  return rest;
}

function invalid(message: string): PlatformError {
  return new PlatformError(PlatformErrorCode.InvalidInput, message);
}

const LOGIN_FAILED = 'wrong user name or password';

export class AuthService {
  readonly sessionTtlMs: number;
  readonly #perUser: FailureLimiter;
  readonly #perAddress: FailureLimiter;

  constructor(
    private readonly store: PlatformStore,
    private readonly clock: Clock,
    options: AuthOptions = {},
  ) {
    this.sessionTtlMs = options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
    const limits = options.loginLimits ?? DEFAULT_LOGIN_LIMITS;
    this.#perUser = new FailureLimiter(limits.perUser);
    this.#perAddress = new FailureLimiter(limits.perAddress);
  }

  // ---- logging in and out -------------------------------------------------------------------------

  /**
   * Checks the password and opens a session. Unknown user and wrong password fail alike (same message,
   * and a dummy hash is checked so both take as long).
   */
  async login(
    username: string,
    password: string,
    address: string,
  ): Promise<{ token: string; expiresAt: number; user: PublicUser }> {
    const now = this.clock.now();
    const userKey = username.toLowerCase();
    const wait = Math.max(this.#perUser.retryAfter(userKey, now), this.#perAddress.retryAfter(address, now));
    if (wait > 0) throw new RateLimitedError(wait);
    const user = await this.store.getUser(username);
    const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyHash()));
    if (!user || !ok) {
      this.#perUser.fail(userKey, now);
      this.#perAddress.fail(address, now);
      throw new UnauthorizedError(LOGIN_FAILED);
    }
    this.#perUser.reset(userKey);
    await this.store.deleteExpiredTokens(now);
    const expiresAt = now + this.sessionTtlMs;
    const { token } = await this.#issue(TokenKind.Session, user.username, user.role, null, expiresAt);
    return { token, expiresAt, user: publicUser(user) };
  }

  async logout(principal: Principal): Promise<void> {
    await this.store.deleteToken(principal.tokenId);
  }

  /** The principal behind a presented token, or undefined when it is unknown, expired or revoked. */
  async authenticate(token: string): Promise<Principal | undefined> {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return undefined;
    const found = await this.store.findToken(hashToken(token));
    if (!found) return undefined;
    const { token: t, user } = found;
    const now = this.clock.now();
    if (t.expiresAt !== null && t.expiresAt <= now) return undefined;
    if (t.lastUsedAt === null || now - t.lastUsedAt >= TOUCH_EVERY_MS) await this.store.touchToken(t.id, now);
    return {
      username: user.username,
      role: lowerRole(t.role, user.role),
      tokenId: t.id,
      kind: t.kind,
      expiresAt: t.expiresAt,
    };
  }

  // ---- API tokens ---------------------------------------------------------------------------------

  /** A long-lived token for scripts, owned by its creator and never above the creator's role. */
  async createApiToken(
    creator: Principal,
    input: { name: string; role: Role; expiresAt?: number | null },
  ): Promise<{ token: string; record: PublicToken }> {
    if (!isRole(input.role)) throw invalid(`role: expected one of viewer, operator, admin`);
    if (!roleAtLeast(creator.role, input.role))
      throw new ForbiddenError(`role: a ${creator.role} cannot create a token with role ${input.role}`);
    const now = this.clock.now();
    if (input.expiresAt !== undefined && input.expiresAt !== null && input.expiresAt <= now)
      throw invalid('expiresAt: must be in the future');
    const { token, record } = await this.#issue(
      TokenKind.Api,
      creator.username,
      input.role,
      input.name,
      input.expiresAt ?? null,
    );
    return { token, record: publicToken(record) };
  }

  /** Admins see every API token; others their own. */
  async listApiTokens(principal: Principal): Promise<PublicToken[]> {
    const all = await this.store.listTokens({
      kind: TokenKind.Api,
      username: principal.role === Role.Admin ? undefined : principal.username,
    });
    return all.map(publicToken);
  }

  async revokeApiToken(principal: Principal, id: string): Promise<void> {
    const token = await this.store.getToken(id);
    // someone else's token is "not found" for a non-admin: its existence is not theirs to know
    if (
      !token ||
      token.kind !== TokenKind.Api ||
      (principal.role !== Role.Admin && token.username !== principal.username)
    )
      throw new NotFoundError('token', id);
    await this.store.deleteToken(id);
  }

  async #issue(
    kind: TokenKind,
    username: string,
    role: Role,
    name: string | null,
    expiresAt: number | null,
  ): Promise<{ token: string; record: TokenRecord }> {
    const token = newToken(kind);
    const record: TokenRecord = {
      id: newTokenId(),
      hash: hashToken(token),
      kind,
      name,
      username,
      role,
      createdAt: this.clock.now(),
      expiresAt,
      lastUsedAt: null,
    };
    await this.store.saveToken(record);
    return { token, record };
  }

  // ---- users --------------------------------------------------------------------------------------

  async listUsers(): Promise<PublicUser[]> {
    return (await this.store.listUsers()).map(publicUser);
  }

  async getUser(username: string): Promise<PublicUser> {
    const user = await this.store.getUser(username);
    if (!user) throw new NotFoundError('user', username);
    return publicUser(user);
  }

  async createUser(input: { username: string; password: string; role: Role }): Promise<PublicUser> {
    const problem = usernameProblem(input.username) ?? passwordProblem(input.password);
    if (problem) throw invalid(problem);
    if (!isRole(input.role)) throw invalid('role: expected one of viewer, operator, admin');
    const now = this.clock.now();
    const user: UserRecord = {
      username: input.username,
      passwordHash: await hashPassword(input.password),
      role: input.role,
      createdAt: now,
      updatedAt: now,
    };
    if (!(await this.store.createUser(user)))
      throw new PlatformError(PlatformErrorCode.Conflict, `user '${input.username}' exists`);
    return publicUser(user);
  }

  /**
   * Changes a user's role and/or password. A new password ends the user's sessions; a lower role takes
   * effect at once on every token (tokens are capped by the user's current role).
   */
  async updateUser(username: string, patch: { role?: Role; password?: string }): Promise<PublicUser> {
    const user = await this.store.getUser(username);
    if (!user) throw new NotFoundError('user', username);
    if (patch.password !== undefined) {
      const problem = passwordProblem(patch.password);
      if (problem) throw invalid(problem);
    }
    if (patch.role !== undefined && !isRole(patch.role))
      throw invalid('role: expected one of viewer, operator, admin');
    if (patch.role !== undefined && patch.role !== Role.Admin && user.role === Role.Admin)
      await this.#keepAnAdmin(username);
    const updated = await this.store.updateUser(
      username,
      {
        role: patch.role,
        passwordHash: patch.password === undefined ? undefined : await hashPassword(patch.password),
      },
      this.clock.now(),
    );
    if (!updated) throw new NotFoundError('user', username);
    if (patch.password !== undefined) await this.store.deleteUserTokens(username, TokenKind.Session);
    return publicUser(updated);
  }

  async deleteUser(username: string): Promise<void> {
    const user = await this.store.getUser(username);
    if (!user) throw new NotFoundError('user', username);
    if (user.role === Role.Admin) await this.#keepAnAdmin(username);
    await this.store.deleteUser(username);
  }

  /** Nobody could manage users any more without an admin: the last one stays. */
  async #keepAnAdmin(leaving: string): Promise<void> {
    const admins = (await this.store.listUsers()).filter(
      (u) => u.role === Role.Admin && u.username !== leaving,
    );
    if (admins.length === 0)
      throw new PlatformError(
        PlatformErrorCode.Conflict,
        `'${leaving}' is the last admin; make another admin first`,
      );
  }
}
