// What the commands that run the platform (`mqiot up`, `cloud`, `edge`) read while turning flags into
// settings: the platform's defaults and policies, the first admin's password rule, and the one broker
// store failure a start reports as a user error.
export { DEFAULT_PLATFORM_CONFIG, UnknownGateways, type PlatformConfig } from '../../platform/config.ts';
export { ADMIN_PASSWORD_ENV } from '../../platform/auth/first-admin.ts';
export { passwordProblem } from '../../platform/auth/password.ts';
export { SqliteStoreError } from '../../broker/index.ts';
