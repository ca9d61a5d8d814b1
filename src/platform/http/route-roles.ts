// The role a route requires, as a Fastify route option (`config: { role }`), enforced where people's
// logins are checked. Declared here so routes can carry it; the enforcement lives with the login code.
// (Placeholder from the gateway-credentials work: the lead merges it with the login work's declaration.)
export type RouteRole = 'public' | 'viewer' | 'operator' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    role?: RouteRole;
  }
}
