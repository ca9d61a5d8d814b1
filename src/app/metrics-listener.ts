// `/metrics` for a platform without a broker of its own (`mqiot cloud --broker URL`): the platform's
// metrics and the process figures, on the same kind of listener the broker has.
import type { Logger } from 'pino';
import { renderProcessMetrics, serveMetrics, type Listener } from '../broker/server/index.ts';
import type { PlatformMetrics } from '../platform/metrics/platform-metrics.ts';

export function listenPlatformMetrics(
  metrics: PlatformMetrics,
  host: string,
  port: number,
  logger: Logger,
): Promise<Listener> {
  const render = () => {
    const cpu = process.cpuUsage();
    return (
      metrics.render() +
      renderProcessMetrics({
        residentMemoryBytes: process.memoryUsage.rss(),
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
      })
    );
  };
  return serveMetrics(render, host, port, logger);
}
