export * from './schema.ts';
export { ConfigError } from './errors.ts';
export { loadConfig, envName, readConfigFile, type LoadConfigOptions, type DeepPartial } from './load.ts';
