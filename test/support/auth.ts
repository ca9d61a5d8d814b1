// Signing tests in: users and API tokens written straight into a platform store (no HTTP round trip),
// and helpers that add the token to inject() and fetch() calls.
import type { FastifyInstance, InjectOptions } from 'fastify';
import { hashPassword } from '../../src/platform/auth/password.ts';
import type { Role } from '../../src/platform/auth/roles.ts';
import { hashToken, newToken, newTokenId } from '../../src/platform/auth/tokens.ts';
import type { PlatformStore } from '../../src/platform/store/index.ts';

/** A password that meets the length rule, for tests that log in over HTTP. */
export const TEST_PASSWORD = 'correct horse battery';

/**
 * Makes sure `username` exists with `role` (with TEST_PASSWORD when `withPassword`, else an unusable
 * hash, which is faster) and returns a new API token of that user and role.
 */
export async function testToken(
  store: PlatformStore,
  role: Role = 'admin',
  options: { username?: string; withPassword?: boolean; expiresAt?: number | null } = {},
): Promise<string> {
  const username = options.username ?? `test-${role}`;
  const now = Date.now();
  if (!(await store.getUser(username))) {
    await store.createUser({
      username,
      passwordHash: options.withPassword ? await hashPassword(TEST_PASSWORD) : 'unusable',
      role,
      createdAt: now,
      updatedAt: now,
    });
  }
  const token = newToken('api');
  await store.saveToken({
    id: newTokenId(),
    hash: hashToken(token),
    kind: 'api',
    name: 'test',
    username,
    role,
    createdAt: now,
    expiresAt: options.expiresAt ?? null,
    lastUsedAt: null,
  });
  return token;
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** `app.inject` with the token's Authorization header added. */
export function authedInject(app: FastifyInstance, token: string) {
  return (options: InjectOptions) =>
    app.inject({ ...options, headers: { ...bearer(token), ...(options.headers ?? {}) } });
}

/** `fetch` with the token's Authorization header added (relative paths against `baseUrl`). */
export function authedFetch(baseUrl: string, token: string) {
  return (path: string, init: RequestInit = {}) =>
    fetch(path.startsWith('http') ? path : `${baseUrl}${path}`, {
      ...init,
      headers: { ...bearer(token), ...((init.headers as Record<string, string> | undefined) ?? {}) },
    });
}

/** Signs in over HTTP; returns the session token. */
export async function login(baseUrl: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`login as ${username}: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/** The first admin's password from the one-time console note of a first start (undefined if none). */
export function printedAdminPassword(consoleText: string): string | undefined {
  return /password: (\S+)/.exec(consoleText)?.[1];
}
