import { ConfigError, loadConfig, type MqiotConfig } from '../app/config/index.ts';
import { CliError } from './errors.ts';

/** loadConfig for a command: a configuration mistake becomes a CliError (exit 2, no stack trace). */
export function loadCommandConfig(options: Parameters<typeof loadConfig>[0]): MqiotConfig {
  try {
    return loadConfig(options);
  } catch (err) {
    if (err instanceof ConfigError)
      throw new CliError(`configuration error: ${err.message}`, 2, { cause: err });
    throw err;
  }
}
