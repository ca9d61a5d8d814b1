/**
 * A configuration value that cannot be used. `field` is the dotted path (`broker.port`) and `source`
 * says where the value came from (a file path, `environment MQIOT_BROKER_PORT`, `command line`), so
 * the message points the user at the exact line to fix.
 */
export class ConfigError extends Error {
  readonly field: string;
  readonly source: string;
  constructor(field: string, source: string, problem: string, options?: { cause?: unknown }) {
    super(`${source}: ${field}: ${problem}`, options);
    this.name = 'ConfigError';
    this.field = field;
    this.source = source;
  }
}
