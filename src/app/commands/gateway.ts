// `mqiot gateway`'s process: a gateway from its configuration file, its contracts resolved before it
// starts so that `--check` finds every mistake a start would.
import { Gateway, GatewayConfigError, loadGatewayConfig, resolveContracts } from '../../gateway/index.ts';
import type { GatewayConfig } from '../../gateway/index.ts';
import type { Logger } from '../../log.ts';
import { StartError } from '../start-error.ts';

export { GatewayConfigError, type GatewayConfig };

/** The configuration in `file`, validated with its contracts; a mistake is a GatewayConfigError. */
export function loadGatewayFile(file: string): GatewayConfig {
  const config = loadGatewayConfig(file);
  resolveContracts(config, undefined, file);
  return config;
}

export interface GatewayProcess {
  /** Drains the queue for up to 2 s and sends the will with reason "shutdown". */
  stop(): Promise<void>;
}

export async function startGatewayProcess(config: GatewayConfig, logger: Logger): Promise<GatewayProcess> {
  const gateway = new Gateway(config, { logger });
  try {
    await gateway.start();
  } catch (err) {
    // disk queue, TLS files, listener ports: the message names what is wrong; no stack trace needed
    throw new StartError(`cannot start: ${(err as Error).message}`, { cause: err });
  }
  return { stop: () => gateway.stop() };
}
