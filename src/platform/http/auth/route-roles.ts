// Every route under /api declares who may call it: `config: { role: 'public' | 'viewer' | 'operator'
// | 'admin' }`. This hook refuses to start a server with an /api route that does not, so a new route
// cannot be added without thinking about it, and writes the role into the OpenAPI document: the
// operation's `security` (the bearer scheme, or none for public routes) and an `x-role` extension.
import type { FastifyInstance, RouteOptions } from 'fastify';
import { ROUTE_ROLES, type RouteRole } from '../../auth/roles.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Minimum role for the route (required under /api). */
    role?: RouteRole;
  }
}

export const BEARER_SCHEME = 'bearer';

/** For the OpenAPI document's components. */
export const securitySchemes = {
  [BEARER_SCHEME]: {
    type: 'http',
    scheme: 'bearer',
    description:
      'A session token from POST /api/auth/login or an API token from POST /api/tokens. The dashboard ' +
      'sends the same session as an HttpOnly cookie instead.',
  },
} as const;

export function isApiPath(url: string): boolean {
  return url === '/api' || url.startsWith('/api/');
}

export function declareRouteRoles(app: FastifyInstance): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    if (!isApiPath(route.url)) return;
    const role = (route.config as { role?: unknown } | undefined)?.role;
    const methods = Array.isArray(route.method) ? route.method.join(',') : route.method;
    if (!ROUTE_ROLES.includes(role as RouteRole))
      throw new Error(
        `route ${methods} ${route.url} declares no role: add config: { role: 'public' | 'viewer' | 'operator' | 'admin' }`,
      );
    const schema = (route.schema ??= {}) as Record<string, unknown>;
    schema['x-role'] = role;
    schema.security = role === 'public' ? [] : [{ [BEARER_SCHEME]: [] }];
  });
}
