// `mqiot user`'s work on the platform store: the people who sign in to the HTTP API, managed through
// the same service the API uses (password rules, roles, sessions ended on a password change).
import { AuthService } from '../../platform/auth/service.ts';
import { systemClock } from '../../platform/clock.ts';
import type { PlatformStore } from '../../platform/store/index.ts';

export { MIN_PASSWORD_LENGTH } from '../../platform/auth/password.ts';
export { isRole, ROLES, type Role } from '../../platform/auth/roles.ts';

export function userAdmin(store: PlatformStore): AuthService {
  return new AuthService(store, systemClock);
}
