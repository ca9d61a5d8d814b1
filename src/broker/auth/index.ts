/**
 * Authentication and topic ACLs for the broker, from `broker.auth` (docs/broker.md "Authentication
 * and ACLs"): a Mosquitto password file, a Mosquitto ACL file and the built-in gateway rule, turned
 * into the broker's hooks. In-process local clients (createLocalClient) never pass through these
 * hooks: the platform is trusted.
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { RateLimitedLog, type RateLimitedLogOptions } from '../../log/rate-limited.ts';
import { ReasonCode } from '../../protocol/reason-codes.ts';
import type { AuthResult, AuthenticateRequest, BrokerHooks, ClientInfo } from '../types.ts';
import { Acl } from './acl-file.ts';
import { GatewayAcl } from './gateway-acl.ts';
import { PasswordFile, type PasswordCacheOptions } from './password-file.ts';

export { Acl, Access, parseAclFile, type AclRule, type ParsedAcl } from './acl-file.ts';
export { AuthFileError } from './errors.ts';
export { GATEWAY_USERNAME_PREFIX, GatewayAcl, gatewayIdOfUsername } from './gateway-acl.ts';
export {
  DEFAULT_PBKDF2_ITERATIONS,
  PasswordFile,
  checkUsername,
  hashPassword,
  parsePasswordFile,
  removePasswordLine,
  setPasswordLine,
} from './password-file.ts';

export interface AuthConfig {
  /**
   * Clients without a username may connect (and use the ACL file's anonymous rules). Default true so
   * that a first `mqiot up` just works; set false in production.
   */
  allowAnonymous: boolean;
  /** Mosquitto password file (`mqiot passwd` or `mosquitto_passwd` writes it); null: usernames are not checked. */
  passwordFile: string | null;
  /** Mosquitto ACL file; null: no topic rules (everything allowed, except what gatewayAcl restricts). */
  aclFile: string | null;
  /** Username `gw-<id>` may publish only to `mqiot/gw/<id>/up` and subscribe only to `mqiot/gw/<id>/down`. */
  gatewayAcl: boolean;
}

export const DEFAULT_AUTH_CONFIG: Readonly<AuthConfig> = Object.freeze({
  allowAnonymous: true,
  passwordFile: null,
  aclFile: null,
  gatewayAcl: false,
});

export interface BrokerAuthOptions {
  logger?: Logger;
  /** Password verification cache (tests shorten it). */
  cache?: PasswordCacheOptions;
  /** Refused logins and subscriptions: at most one line per reason per interval (tests shorten it). */
  log?: RateLimitedLogOptions;
  /** Gateways are checked against the platform's registry too (`mqiot up`): no warning without a file. */
  gatewayRegistry?: boolean;
}

/** Loads the files of `broker.auth` and answers the broker's hooks; `reload()` re-reads the files. */
export class BrokerAuth {
  readonly config: Readonly<AuthConfig>;
  /** Pass to `new Broker(options, { hooks })`. Only the hooks the configuration needs are set. */
  readonly hooks: Partial<BrokerHooks>;
  #passwords: PasswordFile | undefined;
  #acl: Acl | undefined;
  readonly #gateways: GatewayAcl | undefined;
  readonly #logger: Logger | undefined;
  readonly #log: RateLimitedLog | undefined;
  readonly #cache: PasswordCacheOptions | undefined;

  /** Throws AuthFileError (naming the file and line) when a file cannot be read or parsed. */
  constructor(config: Readonly<AuthConfig>, options: BrokerAuthOptions = {}) {
    this.config = config;
    this.#logger = options.logger;
    this.#log = options.logger === undefined ? undefined : new RateLimitedLog(options.logger, options.log);
    this.#cache = options.cache;
    this.#gateways = config.gatewayAcl ? new GatewayAcl() : undefined;
    this.#load();
    const hooks: Partial<BrokerHooks> = {};
    if (!config.allowAnonymous || config.passwordFile !== null) {
      hooks.authenticate = (req) => this.authenticate(req);
    }
    if (config.aclFile !== null || config.gatewayAcl) {
      hooks.authorizePublish = (client, topic) => this.canPublish(client, topic);
      hooks.authorizeSubscribe = (client, filter) => this.canSubscribe(client, filter);
    }
    if (config.aclFile !== null || config.gatewayAcl) {
      // also for gateways alone: what a session holds is checked against whoever holds it now
      hooks.authorizeDeliver = (client, topic) => this.canRead(client, topic);
    }
    this.hooks = hooks;
    if (!config.allowAnonymous && config.passwordFile === null && options.gatewayRegistry !== true) {
      this.#logger?.warn(
        'broker.auth: allowAnonymous is false and there is no passwordFile: every client is refused',
      );
    }
  }

  /** Re-reads the password and ACL files. On an error the files in use stay in use and it throws. */
  reload(): void {
    this.#load();
    this.#logger?.info(this.#summary(), 'auth files reloaded');
  }

  #load(): void {
    const { passwordFile, aclFile } = this.config;
    const passwords =
      passwordFile === null ? undefined : PasswordFile.load(resolve(passwordFile), this.#cache);
    const acl = aclFile === null ? undefined : Acl.load(resolve(aclFile));
    this.#passwords = passwords;
    this.#acl = acl;
  }

  #summary(): Record<string, unknown> {
    return {
      allowAnonymous: this.config.allowAnonymous,
      passwordFile: this.#passwords?.file ?? null,
      users: this.#passwords?.size ?? 0,
      aclFile: this.#acl?.file ?? null,
      gatewayAcl: this.config.gatewayAcl,
    };
  }

  /** For the startup log line. */
  describe(): Record<string, unknown> {
    return this.#summary();
  }

  authenticate(req: AuthenticateRequest): AuthResult | Promise<AuthResult> {
    const { username } = req;
    if (username === undefined) {
      if (this.config.allowAnonymous) return true;
      return this.#refuse(req, ReasonCode.NotAuthorized, 'anonymous clients are not allowed');
    }
    const passwords = this.#passwords;
    if (passwords === undefined) {
      if (this.config.allowAnonymous) return true; // no file: a username is a name, not a credential
      return this.#refuse(req, ReasonCode.NotAuthorized, 'no password file to check credentials against');
    }
    if (req.password === undefined) return this.#refuse(req, ReasonCode.BadUserNameOrPassword, 'no password');
    return passwords.verify(username, req.password).then((ok) => {
      if (ok) return true;
      return this.#refuse(req, ReasonCode.BadUserNameOrPassword, 'bad user name or password');
    });
  }

  /** Refused logins are expected bad input: one line per reason per interval (a flood stays a line). */
  #refuse(req: ClientInfo, reasonCode: number, why: string): AuthResult {
    const { clientId, username, remoteAddress } = req;
    this.#log?.log(
      'info',
      `auth: ${why}`,
      { clientId, username, remoteAddress },
      `connection refused: ${why}`,
    );
    return { reasonCode };
  }

  canPublish(client: ClientInfo, topic: string): boolean {
    let ok = this.#gateways?.canPublish(client, topic);
    if (ok === undefined) ok = this.#acl === undefined ? true : this.#acl.canPublish(client, topic);
    // debug only: a misbehaving client may send thousands a second
    if (!ok)
      this.#logger?.debug({ clientId: client.clientId, username: client.username, topic }, 'publish refused');
    return ok;
  }

  /** Delivery: a gateway reads its own down topic only; other clients follow the ACL file (none: all). */
  canRead(client: ClientInfo, topic: string): boolean {
    const gateway = this.#gateways?.canRead(client, topic);
    if (gateway !== undefined) return gateway;
    return this.#acl === undefined ? true : this.#acl.canRead(client, topic);
  }

  canSubscribe(client: ClientInfo, filter: string): boolean {
    let ok = this.#gateways?.canSubscribe(client, filter);
    if (ok === undefined) ok = this.#acl === undefined ? true : this.#acl.canSubscribe(client, filter);
    if (!ok)
      this.#log?.log(
        'info',
        'subscription refused',
        { clientId: client.clientId, username: client.username, filter },
        'subscription refused',
      );
    return ok;
  }
}

/**
 * SIGHUP re-reads the password and ACL files (as `kill -HUP` does for Mosquitto). A broken file is
 * logged and the previous files stay in use. Returns the function that removes the handler.
 */
export function reloadOnSighup(auth: BrokerAuth, logger: Logger): () => void {
  if (auth.config.passwordFile === null && auth.config.aclFile === null) return () => {};
  const onHup = (): void => {
    try {
      auth.reload();
    } catch (err) {
      logger.error({ err }, 'auth files not reloaded; the previous ones stay in use');
    }
  };
  process.on('SIGHUP', onHup);
  return () => process.off('SIGHUP', onHup);
}
