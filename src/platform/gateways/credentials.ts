// Gateway credentials issued by the platform (docs/threat-model.md#gateways-and-mqtt): username `gw-<id>`, a
// random secret shown once, stored as a Mosquitto `$7$` PBKDF2-SHA512 hash so the same rows can be
// exported to a Mosquitto password file. The embedded broker checks CONNECTs against them.
//
// Verification reads the stored hash on every CONNECT (one indexed row), so a rotation or revocation —
// made through the API or by the CLI in another process — refuses the next CONNECT at once. Only the
// key derivation is cached, keyed by the hash it was checked against: a new hash misses the cache.
import { createHmac, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import {
  checkGatewayUsername,
  GATEWAY_USERNAME_PREFIX,
  gatewayIdOfUsername,
} from '../../protocol/gateway-username.ts';
import { isValidTopicId } from '../../protocol/gateway-topics.ts';
import type { Clock } from '../clock.ts';
import { PlatformError, PlatformErrorCode } from '../errors.ts';
import type { GatewayCredentialRow, PlatformStore } from '../store/types.ts';

/** 24 random bytes: 192 bits, far beyond guessing; why PBKDF2's iteration count need not be high. */
export const SECRET_BYTES = 24;
const CACHE_MAX = 10_000;

export interface IssuedCredentials {
  id: string;
  username: string;
  /** The secret, shown this once. */
  password: string;
}

export type Verification = 'ok' | 'bad' | 'none';

/**
 * How secrets are hashed and checked: the broker's Mosquitto `$7$` form, so that the rows can be
 * exported to a Mosquitto password file. Filled in by the wiring room (src/app/secret-hashing.ts).
 */
export interface SecretHashing {
  hash(secret: string): Promise<string>;
  /** Whether `secret` matches `hash`; `username` names the row in an error about a damaged hash. */
  verify(username: string, hash: string, secret: Buffer): Promise<boolean>;
}

/** Whatever can cut a user's connections at once (the broker). */
export interface UserDisconnector {
  /** Disconnects every client authenticated as `username`; returns how many. */
  disconnectUser(username: string): number;
}

export function gatewayUsername(gatewayId: string): string {
  return `${GATEWAY_USERNAME_PREFIX}${gatewayId}`;
}

/** Why a gateway id cannot have credentials (it must be a topic level and a password-file username). */
export function checkGatewayId(id: string): string | undefined {
  if (!isValidTopicId(id))
    return `id: '${id}' is not a valid gateway id (1-128 characters, no '/', '+', '#' or NUL)`;
  const problem = checkGatewayUsername(gatewayUsername(id));
  return problem === undefined ? undefined : `id: ${problem}`;
}

export function newSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

export class GatewayCredentials {
  readonly #store: PlatformStore;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #hashing: SecretHashing;
  /** HMAC(hash ‖ password) of pairs that verified; a new hash (rotation) never matches an old entry. */
  readonly #verified = new Set<string>();
  readonly #cacheKey = randomBytes(32);
  readonly #disconnectors = new Set<UserDisconnector>();
  /** The hash each user was last accepted with (to cut connections whose credentials changed). */
  readonly #acceptedWith = new Map<string, string>();
  /** Key derivations run (cache misses); a test and a figure. */
  derivations = 0;

  constructor(store: PlatformStore, options: { clock: Clock; hashing: SecretHashing; logger?: Logger }) {
    this.#store = store;
    this.#clock = options.clock;
    this.#hashing = options.hashing;
    this.#logger = options.logger;
  }

  /** The broker whose connections rotation and revocation cut. */
  attachBroker(broker: UserDisconnector): () => void {
    this.#disconnectors.add(broker);
    return () => this.#disconnectors.delete(broker);
  }

  /** Issues the first credentials; PlatformError conflict when the gateway already has some. */
  async create(gatewayId: string): Promise<IssuedCredentials> {
    const problem = checkGatewayId(gatewayId);
    if (problem) throw new PlatformError(PlatformErrorCode.InvalidInput, problem);
    const password = newSecret();
    const now = this.#clock.now();
    const row = { gatewayId, hash: await this.#hashing.hash(password), createdAt: now, updatedAt: now };
    if (!(await this.#store.insertGatewayCredential(row))) {
      throw new PlatformError(
        PlatformErrorCode.Conflict,
        `gateway '${gatewayId}' already has credentials: rotate them with POST /api/gateways/${gatewayId}/credentials`,
      );
    }
    return { id: gatewayId, username: gatewayUsername(gatewayId), password };
  }

  /** New secret; the old one stops working at once and connections made with it are cut. */
  async rotate(gatewayId: string): Promise<IssuedCredentials> {
    const problem = checkGatewayId(gatewayId);
    if (problem) throw new PlatformError(PlatformErrorCode.InvalidInput, problem);
    const password = newSecret();
    const now = this.#clock.now();
    const existing = await this.#store.getGatewayCredential(gatewayId);
    await this.#store.putGatewayCredential({
      gatewayId,
      hash: await this.#hashing.hash(password),
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    });
    this.disconnect(gatewayUsername(gatewayId));
    return { id: gatewayId, username: gatewayUsername(gatewayId), password };
  }

  /** Removes the credentials and cuts the gateway's connections; returns whether it had any. */
  async revoke(gatewayId: string): Promise<{ revoked: boolean; disconnected: number }> {
    const revoked = await this.#store.deleteGatewayCredential(gatewayId);
    return { revoked, disconnected: this.disconnect(gatewayUsername(gatewayId)) };
  }

  list(): Promise<GatewayCredentialRow[]> {
    return this.#store.listGatewayCredentials();
  }

  disconnect(username: string): number {
    this.#acceptedWith.delete(username);
    let n = 0;
    for (const broker of this.#disconnectors) n += broker.disconnectUser(username);
    if (n > 0) this.#logger?.info({ username, connections: n }, 'gateway disconnected: credentials changed');
    return n;
  }

  /** 'none' when the registry has no credentials for this username (other checks may decide). */
  async verify(username: string, password: Buffer | undefined): Promise<Verification> {
    const gatewayId = gatewayIdOfUsername(username);
    if (gatewayId === undefined) return 'none';
    const row = await this.#store.getGatewayCredential(gatewayId);
    if (row === undefined) return 'none';
    if (password === undefined) return 'bad';
    const key = createHmac('sha256', this.#cacheKey)
      .update(row.hash)
      .update('\0')
      .update(password)
      .digest('base64');
    if (!this.#verified.has(key)) {
      this.derivations++;
      if (!(await this.#hashing.verify(username, row.hash, password))) return 'bad';
      if (this.#verified.size >= CACHE_MAX) this.#verified.delete(this.#verified.values().next().value!);
      this.#verified.add(key);
    }
    this.#acceptedWith.set(username, row.hash);
    return 'ok';
  }

  /**
   * Cuts connections whose credentials were rotated or revoked elsewhere (the CLI on the same store,
   * another instance): run periodically by whoever runs the broker.
   */
  async sweep(): Promise<number> {
    if (this.#acceptedWith.size === 0) return 0;
    const current = new Map(
      (await this.#store.listGatewayCredentials()).map((r) => [gatewayUsername(r.gatewayId), r.hash]),
    );
    let cut = 0;
    for (const [username, hash] of [...this.#acceptedWith]) {
      if (current.get(username) === hash) continue;
      cut += this.disconnect(username);
    }
    return cut;
  }
}
