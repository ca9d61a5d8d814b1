// `/metrics` for a platform without a broker of its own (`mqiot cloud --broker URL`): the platform's
// metrics and the process figures, on the same kind of listener the broker has.
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Listener } from '../broker/server/index.ts';
import { addProcessMetrics, serveMetrics } from '../broker/server/metrics.ts';
import type { PlatformMetrics } from '../platform/metrics/platform-metrics.ts';

export function listenPlatformMetrics(
  metrics: PlatformMetrics,
  host: string,
  port: number,
  logger: Logger,
): Promise<Listener> {
  // the platform's registry and this process's figures on one page
  const processFigures = new Registry();
  addProcessMetrics(processFigures);
  const render = async () => (await metrics.render()) + (await processFigures.metrics());
  return serveMetrics(render, host, port, logger);
}
