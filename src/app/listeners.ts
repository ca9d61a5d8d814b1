// The broker's listeners started from the configuration. The broker takes plain listener options and
// reports an unreadable PEM file in its own terms; here that becomes a ConfigError naming the
// configuration field (`broker.tls.cert`), so the user is pointed at the line to fix.
import type { Logger } from 'pino';
import {
  startListeners as startBrokerListeners,
  TlsFileError,
  type BrokerLike,
  type Listener,
  type MetricsSource,
} from '../broker/server/index.ts';
import { ConfigError } from './config/errors.ts';
import type { BrokerConfig } from './config/schema.ts';

export type { Listener };

export async function startListeners(
  broker: BrokerLike,
  config: BrokerConfig,
  logger: Logger,
  extraMetrics?: MetricsSource,
): Promise<Listener[]> {
  try {
    return await startBrokerListeners(broker, config, logger, extraMetrics);
  } catch (err) {
    if (err instanceof TlsFileError)
      throw new ConfigError(`broker.tls.${err.field}`, err.file, err.problem, { cause: err });
    throw err;
  }
}
