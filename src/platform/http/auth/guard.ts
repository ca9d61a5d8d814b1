// The check in front of every request, in Fastify's onRequest hook, i.e. before the body is read,
// validated or routed: a request for an unknown /api path without credentials is a 401 like any other,
// so neither 404 nor 400 tells a stranger anything.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthService, Principal } from '../../auth/service.ts';
import { Role, roleAtLeast, type RouteRole } from '../../auth/roles.ts';
import { ForbiddenError, UnauthorizedError } from '../../errors.ts';
import { HttpErrorCode } from '../errors.ts';
import { isApiPath } from './route-roles.ts';
import { credentialFrom, CSRF_HEADER, hostAllowed, isSafeMethod, sameOriginWrite } from './request-checks.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; set by the guard on every authenticated /api route. */
    principal?: Principal;
  }
}

export interface GuardOptions {
  /** Extra Host names (http.allowedHosts). */
  allowedHosts: readonly string[];
}

export function installGuard(app: FastifyInstance, auth: AuthService, options: GuardOptions): void {
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!hostAllowed(req.headers.host, options.allowedHosts)) {
      const host = String(req.headers.host ?? '').slice(0, 100);
      return reply.code(400).send({
        error: {
          code: HttpErrorCode.HostNotAllowed,
          message: `host '${host}' is not one this server answers to (see http.allowedHosts)`,
        },
      });
    }
    const path = req.url.split('?')[0]!;
    // The matched route's own role decides, whatever the spelling of the path. Without one: an unknown
    // /api path needs a signed-in caller before it may learn that it is unknown; other paths are the
    // dashboard's files, which hold no data.
    const role: RouteRole = req.routeOptions.config?.role ?? (isApiPath(path) ? Role.Viewer : 'public');
    if (role === 'public') return;
    const credential = credentialFrom(req.headers);
    if (credential === undefined) throw new UnauthorizedError();
    if ('malformed' in credential)
      throw new UnauthorizedError('the Authorization header must be "Bearer <token>"');
    if (credential.from === 'cookie' && !isSafeMethod(req.method)) {
      const headers = {
        origin: req.headers.origin,
        host: req.host,
        [CSRF_HEADER]: req.headers[CSRF_HEADER] as string | undefined,
      };
      if (!sameOriginWrite(headers))
        throw new ForbiddenError(
          `a write authenticated by cookie needs an Origin header of this site or ${CSRF_HEADER}`,
        );
    }
    const principal = await auth.authenticate(credential.token);
    if (!principal) throw new UnauthorizedError('the token is unknown, expired or revoked: sign in again');
    req.principal = principal;
    if (!roleAtLeast(principal.role, role))
      throw new ForbiddenError(`${req.method} ${path} needs role ${role}; you are ${principal.role}`);
  });
}
