// First start: a store without users gets an `admin`, with MQIOT_ADMIN_PASSWORD or else a random
// password that is shown once on the console (not through the logger, so it never lands in log files).
import type { Clock } from '../clock.ts';
import type { PlatformStore } from '../store/types.ts';
import { hashPassword, passwordProblem, randomPassword } from './password.ts';
import { Role } from './roles.ts';

export const FIRST_ADMIN = 'admin';
export const ADMIN_PASSWORD_ENV = 'MQIOT_ADMIN_PASSWORD';

export type FirstAdmin =
  { created: false } | { created: true; username: string; password: string; generated: boolean };

/**
 * Creates the first admin when the store has no user. Several instances starting together on one
 * PostgreSQL may race: the user name is the key, so only one insert wins and only its password is
 * reported.
 */
export async function ensureFirstAdmin(
  store: PlatformStore,
  clock: Clock,
  options: { password?: string } = {},
): Promise<FirstAdmin> {
  if ((await store.countUsers()) > 0) return { created: false };
  const given = options.password;
  if (given !== undefined) {
    const problem = passwordProblem(given);
    if (problem) throw new Error(`${ADMIN_PASSWORD_ENV}: ${problem.replace(/^password: /, '')}`);
  }
  const password = given ?? randomPassword();
  const now = clock.now();
  const created = await store.createUser({
    username: FIRST_ADMIN,
    passwordHash: await hashPassword(password),
    role: Role.Admin,
    createdAt: now,
    updatedAt: now,
  });
  if (!created) return { created: false };
  return { created: true, username: FIRST_ADMIN, password, generated: given === undefined };
}

/** The console note for a generated password (none is printed for one the operator chose). */
export function firstAdminNotice(admin: FirstAdmin, url?: string): string | undefined {
  if (!admin.created || !admin.generated) return undefined;
  const where = url ? ` at ${url}/` : '';
  return [
    '',
    '  ┌──────────────────────────────────────────────────────────────',
    `  │ mqiot: first start — sign in${where} as`,
    `  │   user:     ${admin.username}`,
    `  │   password: ${admin.password}`,
    '  │ This password is shown only now. Change it with',
    `  │   mqiot user passwd ${admin.username}   (same --data-dir / --postgres)`,
    '  └──────────────────────────────────────────────────────────────',
    '',
  ].join('\n');
}
