/**
 * Mosquitto password files (`mosquitto_passwd`): one `username:hash` per line, `#` comments.
 * Two hash forms, as Mosquitto 2.x reads them:
 * - `$7$<iterations>$<base64 salt>$<base64 hash>`: PBKDF2-HMAC-SHA512, 64-byte key (what
 *   `mosquitto_passwd` 2.0 writes, with 101 iterations and a 12-byte salt);
 * - `$6$<base64 salt>$<base64 hash>`: SHA-512(password ‖ salt), the 1.x form.
 * Verification is asynchronous (pbkdf2 runs on the libuv pool) and its results are cached, so a
 * reconnect storm of a thousand devices costs a thousand HMACs, not a thousand key derivations.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AuthFileError } from './errors.ts';

export const HashKind = { Sha512: 6, Pbkdf2Sha512: 7 } as const;
export type HashKind = (typeof HashKind)[keyof typeof HashKind];

/** What `mosquitto_passwd` 2.0.x writes (checked against Debian's 2.0.11): `$7$101$`, 12-byte salt. */
export const DEFAULT_PBKDF2_ITERATIONS = 101;
export const SALT_BYTES = 12;
export const HASH_BYTES = 64;

export interface PasswordEntry {
  readonly username: string;
  readonly kind: HashKind;
  readonly iterations: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
  readonly line: number;
}

export interface PasswordCacheOptions {
  /** How long a verified (username, password) stays trusted. Default 10 min. */
  successTtlMs?: number;
  /** How long a failed pair is answered from the cache (never forever). Default 30 s. */
  failureTtlMs?: number;
  /** Entries kept at most; the oldest go first. Default 10 000. */
  maxEntries?: number;
  now?: () => number;
}

export const DEFAULT_SUCCESS_TTL_MS = 10 * 60_000;
export const DEFAULT_FAILURE_TTL_MS = 30_000;
export const DEFAULT_MAX_CACHED = 10_000;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parses the text of a password file; `file` is only used in error messages. */
export function parsePasswordFile(text: string, file: string): Map<string, PasswordEntry> {
  const entries = new Map<string, PasswordEntry>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trimEnd();
    if (raw.trim() === '' || raw.trimStart().startsWith('#')) continue;
    const entry = parseLine(raw, file, i + 1);
    if (entries.has(entry.username)) {
      const first = entries.get(entry.username)!.line;
      throw new AuthFileError(file, i + 1, `user '${entry.username}' already defined on line ${first}`);
    }
    entries.set(entry.username, entry);
  }
  return entries;
}

function parseLine(raw: string, file: string, line: number): PasswordEntry {
  const colon = raw.indexOf(':');
  if (colon <= 0) throw new AuthFileError(file, line, "expected 'username:$7$...' (no username or no ':')");
  const username = raw.slice(0, colon);
  const hashed = raw.slice(colon + 1);
  const parts = hashed.split('$');
  const bad = (why: string): AuthFileError =>
    new AuthFileError(file, line, `user '${username}': ${why} (expected $7$<iterations>$<salt>$<hash>)`);
  if (parts[0] !== '' || parts.length < 4) throw bad('not a mosquitto_passwd hash');
  let kind: HashKind;
  let iterations = 1;
  let salt64: string;
  let hash64: string;
  if (parts[1] === '7' && parts.length === 5) {
    kind = HashKind.Pbkdf2Sha512;
    if (!/^[1-9]\d{0,8}$/.test(parts[2]!))
      throw bad(`iteration count '${parts[2]}' is not a positive integer`);
    iterations = Number(parts[2]);
    salt64 = parts[3]!;
    hash64 = parts[4]!;
  } else if (parts[1] === '6' && parts.length === 4) {
    kind = HashKind.Sha512;
    salt64 = parts[2]!;
    hash64 = parts[3]!;
  } else {
    throw bad(`unknown hash type '$${parts[1]}$' or wrong number of fields`);
  }
  if (!BASE64.test(salt64)) throw bad('salt is not base64');
  if (!BASE64.test(hash64)) throw bad('hash is not base64');
  const hash = Buffer.from(hash64, 'base64');
  if (hash.length !== HASH_BYTES) throw bad(`hash is ${hash.length} bytes, not ${HASH_BYTES}`);
  return { username, kind, iterations, salt: Buffer.from(salt64, 'base64'), hash, line };
}

function derive(
  entry: Pick<PasswordEntry, 'kind' | 'iterations' | 'salt'>,
  password: Buffer,
): Promise<Buffer> {
  if (entry.kind === HashKind.Sha512) {
    return Promise.resolve(createHash('sha512').update(password).update(entry.salt).digest());
  }
  return new Promise((resolve, reject) => {
    pbkdf2(password, entry.salt, entry.iterations, HASH_BYTES, 'sha512', (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** Checks a password against one entry, in constant time for equal-length hashes. */
export async function verifyEntry(entry: PasswordEntry, password: Buffer): Promise<boolean> {
  const derived = await derive(entry, password);
  return derived.length === entry.hash.length && timingSafeEqual(derived, entry.hash);
}

/** A new `$7$` hash in mosquitto_passwd's format (PBKDF2-SHA512, 101 iterations, 12-byte salt). */
export async function hashPassword(
  password: string | Buffer,
  options: { iterations?: number; salt?: Buffer } = {},
): Promise<string> {
  const iterations = options.iterations ?? DEFAULT_PBKDF2_ITERATIONS;
  const salt = options.salt ?? randomBytes(SALT_BYTES);
  const pw = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  const hash = await derive({ kind: HashKind.Pbkdf2Sha512, iterations, salt }, pw);
  return `$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Usernames mosquitto_passwd accepts in a file: no ':' (the separator), no line breaks, not empty. */
export function checkUsername(username: string): string | undefined {
  if (username === '') return 'the username is empty';
  if (username.includes(':')) return "a username must not contain ':'";
  if (/[\r\n]/.test(username)) return 'a username must not contain a line break';
  return undefined;
}

/**
 * The text of a password file with `username` set to `hashed`: its line replaced in place, or
 * appended. Comments and other lines are kept as they are.
 */
export function setPasswordLine(text: string, username: string, hashed: string): string {
  const lines = text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/);
  const entry = `${username}:${hashed}`;
  const at = lines.findIndex((l) => !l.trimStart().startsWith('#') && l.startsWith(`${username}:`));
  if (at === -1) lines.push(entry);
  else lines[at] = entry;
  return `${lines.join('\n')}\n`;
}

/** The text of a password file without `username`'s line; undefined when the user is not in it. */
export function removePasswordLine(text: string, username: string): string | undefined {
  const lines = text.replace(/\r?\n$/, '').split(/\r?\n/);
  const kept = lines.filter((l) => l.trimStart().startsWith('#') || !l.startsWith(`${username}:`));
  if (kept.length === lines.length) return undefined;
  return kept.length === 0 ? '' : `${kept.join('\n')}\n`;
}

type Cached = { ok: boolean; until: number };

/** A loaded password file with a verification cache. Reloading means building a new one. */
export class PasswordFile {
  readonly file: string;
  readonly #entries: ReadonlyMap<string, PasswordEntry>;
  readonly #cache = new Map<string, Cached>();
  readonly #inflight = new Map<string, Promise<boolean>>();
  // cache keys are HMACs under a per-process random key: no password is kept in memory
  readonly #cacheKey = randomBytes(32);
  readonly #successTtl: number;
  readonly #failureTtl: number;
  readonly #max: number;
  readonly #now: () => number;
  /** Used for unknown users so that their refusal takes as long as a wrong password. */
  readonly #decoy: PasswordEntry = {
    username: '',
    kind: HashKind.Pbkdf2Sha512,
    iterations: DEFAULT_PBKDF2_ITERATIONS,
    salt: randomBytes(SALT_BYTES),
    hash: randomBytes(HASH_BYTES),
    line: 0,
  };
  /** Key derivations actually run (a test and a metric: cache hits do not count). */
  derivations = 0;

  constructor(file: string, entries: ReadonlyMap<string, PasswordEntry>, options: PasswordCacheOptions = {}) {
    this.file = file;
    this.#entries = entries;
    this.#successTtl = options.successTtlMs ?? DEFAULT_SUCCESS_TTL_MS;
    this.#failureTtl = options.failureTtlMs ?? DEFAULT_FAILURE_TTL_MS;
    this.#max = options.maxEntries ?? DEFAULT_MAX_CACHED;
    this.#now = options.now ?? Date.now;
  }

  /** Reads and parses the file; throws AuthFileError naming the file (and line). */
  static load(file: string, options?: PasswordCacheOptions): PasswordFile {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new AuthFileError(file, undefined, `cannot read password file: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return new PasswordFile(file, parsePasswordFile(text, file), options);
  }

  get size(): number {
    return this.#entries.size;
  }

  has(username: string): boolean {
    return this.#entries.has(username);
  }

  /** True when the file has this user with this password. */
  verify(username: string, password: Buffer): Promise<boolean> {
    const key = createHmac('sha256', this.#cacheKey)
      .update(username)
      .update('\0')
      .update(password)
      .digest('base64');
    const now = this.#now();
    const hit = this.#cache.get(key);
    if (hit !== undefined) {
      if (hit.until > now) return Promise.resolve(hit.ok);
      this.#cache.delete(key);
    }
    const running = this.#inflight.get(key);
    if (running !== undefined) return running;
    const entry = this.#entries.get(username);
    this.derivations++;
    const check = verifyEntry(entry ?? this.#decoy, password).then((ok) => ok && entry !== undefined);
    const settled = check.then(
      (ok) => {
        this.#inflight.delete(key);
        this.#remember(key, ok);
        return ok;
      },
      (err: unknown) => {
        this.#inflight.delete(key);
        throw err;
      },
    );
    this.#inflight.set(key, settled);
    return settled;
  }

  #remember(key: string, ok: boolean): void {
    if (this.#cache.size >= this.#max) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(key, { ok, until: this.#now() + (ok ? this.#successTtl : this.#failureTtl) });
  }
}
