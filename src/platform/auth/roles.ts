// Roles of people and tokens, ordered: each role may do everything the roles below it may.
export const Role = { Viewer: 'viewer', Operator: 'operator', Admin: 'admin' } as const;
export type Role = (typeof Role)[keyof typeof Role];
export const ROLES: readonly Role[] = [Role.Viewer, Role.Operator, Role.Admin];

/** What a route declares as `config: { role }`: a role, or `public` for the few routes open to anyone. */
export type RouteRole = Role | 'public';
export const ROUTE_ROLES: readonly RouteRole[] = ['public', ...ROLES];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** True when `have` is `need` or above it. */
export function roleAtLeast(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/** The lower of two roles: a token never acts above its owner's current role. */
export function lowerRole(a: Role, b: Role): Role {
  return roleAtLeast(a, b) ? b : a;
}
