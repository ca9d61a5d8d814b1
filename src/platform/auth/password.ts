// Password hashing with scrypt (memory-hard, in Node's crypto: no dependency), and the rules a new
// password and user name must meet. The stored form names its parameters, so they can be raised later
// without breaking existing hashes.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 1024;
export const MAX_USERNAME_LENGTH = 64;
const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]*$/;

// N=2^15, r=8: 32 MiB and ~50-100 ms per hash on a small server, which makes guessing offline costly
// while a login stays quick. maxmem must allow 128 * N * r bytes.
const PARAMS = { N: 1 << 15, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

function scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, keylen, { ...options, maxmem: 256 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** `scrypt$N$r$p$salt$hash` (salt and hash base64url). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await scrypt(password, salt, KEY_LENGTH, PARAMS);
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), key.toString('base64url')].join(
    '$',
  );
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, 'base64url');
  const expected = Buffer.from(parts[5]!, 'base64url');
  if (!Number.isInteger(N) || !Number.isInteger(r) || !Number.isInteger(p) || expected.length === 0)
    return false;
  const key = await scrypt(password, salt, expected.length, { N, r, p });
  return timingSafeEqual(key, expected);
}

/**
 * A hash of a password nobody knows, computed once: a login for an unknown user is checked against it,
 * so it takes as long as a login with a wrong password and says nothing about which users exist.
 */
let dummy: Promise<string> | undefined;
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(18).toString('base64url'));
  return dummy;
}

/** A problem with a new password, or undefined. */
export function passwordProblem(password: unknown): string | undefined {
  if (typeof password !== 'string') return 'password: expected a string';
  if (password.length < MIN_PASSWORD_LENGTH)
    return `password: must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH)
    return `password: must be at most ${MAX_PASSWORD_LENGTH} characters`;
  return undefined;
}

export function usernameProblem(username: unknown): string | undefined {
  if (typeof username !== 'string' || username === '') return 'username: expected a non-empty string';
  if (username.length > MAX_USERNAME_LENGTH)
    return `username: must be at most ${MAX_USERNAME_LENGTH} characters`;
  if (!USERNAME_PATTERN.test(username))
    return 'username: letters, digits and . _ @ - only, starting with a letter or digit';
  return undefined;
}

/** A random password for the first admin: 20 characters from a 64-letter alphabet (120 bits). */
export function randomPassword(): string {
  return randomBytes(15).toString('base64url');
}
