import type { Logger } from 'pino';
import type { MetricsSource } from './metrics.ts';
import { listenTcp } from './tcp.ts';
import { listenTls } from './tls.ts';
import type { BrokerLike, Listener, ListenerOptions } from './types.ts';

export { TlsFileError } from './types.ts';
export type { BrokerLike, Listener, ListenerOptions, ListenerTlsOptions, Transport } from './types.ts';
// The WebSocket and metrics listeners (and `ws`, prom-client under them) are loaded only when they
// are configured: a broker started without them carries none of that code (docs/broker.md, memory at start).
export type { MetricsSource } from './metrics.ts';

/**
 * Starts every configured listener in front of `broker`. If one fails to start (port taken), the
 * ones already started are closed again and the error is thrown. `extraMetrics` adds to `/metrics`.
 */
export async function startListeners(
  broker: BrokerLike,
  config: ListenerOptions,
  logger: Logger,
  extraMetrics?: MetricsSource,
): Promise<Listener[]> {
  const started: Listener[] = [];
  const { host, tls } = config;
  try {
    started.push(await listenTcp(broker, host, config.port, logger));
    if (config.wsPort !== null) {
      const { listenWebSocket } = await import('./ws.ts');
      started.push(await listenWebSocket(broker, host, config.wsPort, logger));
    }
    if (tls.cert !== null && tls.key !== null) {
      started.push(await listenTls(broker, host, { ...tls, cert: tls.cert, key: tls.key }, logger));
    }
    if (config.metricsPort !== null) {
      const { listenMetrics } = await import('./metrics.ts');
      started.push(await listenMetrics(broker, host, config.metricsPort, logger, extraMetrics));
    }
  } catch (err) {
    await Promise.all(started.map((l) => l.drain(0)));
    throw err;
  }
  for (const l of started) logger.info({ transport: l.transport, host: l.host, port: l.port }, 'listening');
  return started;
}
