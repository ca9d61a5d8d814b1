export { Broker, type BrokerDeps } from './broker.ts';
export {
  DEFAULT_BROKER_OPTIONS,
  parseBrokerOptions,
  BrokerOptionsError,
  type BrokerOptions,
} from './options.ts';
export type * from './types.ts';
export { systemClock } from './types.ts';
export type * from './store/types.ts';
export { MemorySessionStore, MemoryRetainedStore } from './store/memory.ts';
export { SqliteSessionStore, SqliteStoreError, type SqliteStoreOptions } from './store/sqlite.ts';
export { LocalClientError } from './local-client.ts';
export { ProtocolViolation, MalformedPacket, LocalDeliveryRefused } from './errors.ts';
