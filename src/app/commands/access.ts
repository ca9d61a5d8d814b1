// `mqiot access`'s process: the access module listening for clients, with the settings the command
// line reads (the defaults its help shows, the validation that names the bad field).
import { AccessProxy } from '../../access/proxy.ts';
import type { AccessOptions } from '../../access/config.ts';
import type { Logger } from '../../log.ts';
import { StartError } from '../start-error.ts';

export {
  DEFAULT_FAILBACK_HOLD_MS,
  DEFAULT_LISTEN_PORT,
  DEFAULT_UPSTREAM_KEEPALIVE,
  parseAccessOptions,
  type AccessOptions,
  type AccessOptionsInput,
  type UpstreamInput,
} from '../../access/config.ts';
export { AccessConfigError } from '../../access/errors.ts';

export interface AccessProcess {
  readonly port: number;
  readonly metricsPort?: number;
  /** Stops listening and ends every session (v5 clients get DISCONNECT 0x8B). */
  close(): Promise<void>;
}

export async function startAccessModule(options: AccessOptions, logger: Logger): Promise<AccessProcess> {
  const proxy = new AccessProxy(options, { logger: logger.child({ component: 'access' }) });
  let address: { port: number; metricsPort?: number };
  try {
    address = await proxy.listen();
  } catch (err) {
    throw new StartError(`cannot listen: ${(err as Error).message}`, { cause: err });
  }
  return { ...address, close: () => proxy.close() };
}
