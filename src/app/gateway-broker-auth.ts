// The embedded broker's CONNECT check (`mqiot up`, `cloud`, `edge`): a username `gw-<id>` with
// credentials in the platform's registry is checked against them — no password file needed; any other
// client (and a `gw-` user the registry has no credentials for) goes to the configured checks
// (password file, anonymous rule) as before.
import { gatewayIdOfUsername } from '../protocol/gateway-username.ts';
import { ReasonCode } from '../protocol/reason-codes.ts';
import type { AuthResult, AuthenticateRequest, BrokerHooks } from '../broker/types.ts';
import type { Logger } from 'pino';
import { LogLimiter } from '../platform/log-limiter.ts';
import type { Verification } from '../platform/gateways/credentials.ts';

/** What the check needs from the registry; it may not exist yet while the platform starts. */
export interface GatewayVerifier {
  verify(username: string, password: Buffer | undefined): Promise<Verification>;
}

export interface RegistryAuth {
  authenticate: BrokerHooks['authenticate'];
  /** Hands over the registry once the platform runs; CONNECTs of gateways wait for it until then. */
  ready(verifier: GatewayVerifier): void;
}

export function registryAuthenticator(
  fallback: BrokerHooks['authenticate'] | undefined,
  logger?: Logger,
): RegistryAuth {
  const limiter = new LogLimiter(logger);
  let resolveVerifier: (v: GatewayVerifier) => void = () => {};
  const verifier = new Promise<GatewayVerifier>((resolve) => (resolveVerifier = resolve));
  const others = (req: AuthenticateRequest): AuthResult | Promise<AuthResult> =>
    fallback === undefined ? true : fallback(req);
  return {
    ready: (v) => resolveVerifier(v),
    authenticate(req) {
      if (gatewayIdOfUsername(req.username) === undefined) return others(req);
      return verifier.then(async (v): Promise<AuthResult> => {
        const verdict = await v.verify(req.username!, req.password);
        if (verdict === 'none') return others(req);
        if (verdict === 'ok') return true;
        limiter.warn(
          'bad-gateway-credentials',
          { clientId: req.clientId, username: req.username },
          'connection refused: bad gateway credentials',
        );
        return { reasonCode: ReasonCode.BadUserNameOrPassword };
      });
    },
  };
}
