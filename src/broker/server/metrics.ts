import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';
import type { BrokerStats } from '../types.ts';
import { listen, trackServer } from './connections.ts';
import type { BrokerLike, Listener } from './types.ts';

type MetricType = 'counter' | 'gauge';

/** Broker counters as Prometheus metrics: the same figures as the `$SYS/broker/...` topics. */
const BROKER_METRICS: ReadonlyArray<readonly [keyof BrokerStats, string, MetricType, string]> = [
  ['clientsConnected', 'mqiot_clients_connected', 'gauge', 'Clients connected now.'],
  ['clientsTotal', 'mqiot_clients_total', 'gauge', 'Sessions known to the broker, connected or not.'],
  ['clientsMaximum', 'mqiot_clients_maximum', 'gauge', 'Most clients connected at once since start.'],
  ['messagesReceived', 'mqiot_messages_received_total', 'counter', 'PUBLISH messages received from clients.'],
  ['messagesSent', 'mqiot_messages_sent_total', 'counter', 'PUBLISH messages sent to clients.'],
  [
    'publishDropped',
    'mqiot_messages_dropped_total',
    'counter',
    'Messages dropped (queue full, queue budget used up, socket backed up, too large for the client).',
  ],
  [
    'packetsReceived',
    'mqiot_packets_received_total',
    'counter',
    'MQTT control packets of every type received.',
  ],
  ['packetsSent', 'mqiot_packets_sent_total', 'counter', 'MQTT control packets of every type sent.'],
  ['bytesReceived', 'mqiot_bytes_received_total', 'counter', 'Bytes received from clients.'],
  ['bytesSent', 'mqiot_bytes_sent_total', 'counter', 'Bytes sent to clients.'],
  ['subscriptions', 'mqiot_subscriptions', 'gauge', 'Subscriptions held.'],
  ['retainedMessages', 'mqiot_retained_messages', 'gauge', 'Retained messages stored.'],
  ['inflightMessages', 'mqiot_inflight_messages', 'gauge', 'QoS 1/2 messages awaiting acknowledgement.'],
  ['queuedMessages', 'mqiot_queued_messages', 'gauge', 'Messages queued for offline or slow clients.'],
  [
    'queuedBytes',
    'mqiot_queued_bytes',
    'gauge',
    'Bytes (payload + topic) of the messages queued, summed over sessions.',
  ],
  [
    'inflightBytes',
    'mqiot_inflight_bytes',
    'gauge',
    'Bytes of the QoS 1/2 messages awaiting acknowledgement.',
  ],
];

export interface ProcessFigures {
  /** Seconds since the broker started. */
  uptime: number;
  residentMemoryBytes: number;
  cpuSeconds: number;
}

export function processFigures(stats: BrokerStats, now: number): ProcessFigures {
  const cpu = process.cpuUsage();
  return {
    uptime: Math.max(0, (now - stats.startedAt) / 1000),
    residentMemoryBytes: process.memoryUsage.rss(),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

/** A gauge or counter whose value `read` gives at each scrape. */
function scraped(registry: Registry, name: string, type: MetricType, help: string, read: () => number): void {
  const value = () => {
    const v = read();
    return Number.isFinite(v) ? v : 0;
  };
  if (type === 'gauge') {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value());
      },
    });
  } else {
    // a counter that mirrors a figure kept elsewhere: reset to that figure at each scrape
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(value());
      },
    });
  }
}

/**
 * A registry of the broker's figures, read from `read()` at each scrape. Its own registry (not
 * prom-client's global one): several brokers in one process keep their figures apart. Stats the
 * broker does not keep are left out.
 */
export function brokerRegistry(read: () => { stats: BrokerStats; figures: ProcessFigures }): Registry {
  const registry = new Registry();
  const first = read().stats;
  scraped(
    registry,
    'mqiot_uptime_seconds',
    'gauge',
    'Seconds since the broker started.',
    () => read().figures.uptime,
  );
  for (const [key, name, type, help] of BROKER_METRICS) {
    if (typeof first[key] !== 'number') continue;
    scraped(registry, name, type, help, () => Number(read().stats[key]));
  }
  addProcessMetrics(registry, () => read().figures);
  return registry;
}

/** Prometheus text exposition format 0.0.4 of these figures. */
export function renderMetrics(stats: BrokerStats, figures: ProcessFigures): Promise<string> {
  return brokerRegistry(() => ({ stats, figures })).metrics();
}

/** The process_* metrics every page of this process carries once. */
export function addProcessMetrics(
  registry: Registry,
  read: () => Omit<ProcessFigures, 'uptime'> = currentProcessFigures,
): void {
  scraped(
    registry,
    'process_resident_memory_bytes',
    'gauge',
    'Resident memory size in bytes.',
    () => read().residentMemoryBytes,
  );
  scraped(
    registry,
    'process_cpu_seconds_total',
    'counter',
    'User and system CPU time spent, seconds.',
    () => read().cpuSeconds,
  );
}

function currentProcessFigures(): Omit<ProcessFigures, 'uptime'> {
  const cpu = process.cpuUsage();
  return { residentMemoryBytes: process.memoryUsage.rss(), cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** More metrics for the same page, e.g. the platform's next to the broker's in `mqiot up`. */
export type MetricsSource = () => string | Promise<string>;

/**
 * HTTP server answering `GET /metrics` (and `/healthz` for load balancers and probes): the broker's
 * metrics, then whatever `extra` renders.
 */
export function listenMetrics(
  broker: BrokerLike,
  host: string,
  port: number,
  logger: Logger,
  extra?: MetricsSource,
): Promise<Listener> {
  const registry = brokerRegistry(() => ({
    stats: broker.stats,
    figures: processFigures(broker.stats, Date.now()),
  }));
  const render = async () => (await registry.metrics()) + (extra ? await extra() : '');
  return serveMetrics(render, host, port, logger);
}

/** The `/metrics` and `/healthz` HTTP server around any page of Prometheus text. */
export async function serveMetrics(
  render: () => string | Promise<string>,
  host: string,
  port: number,
  logger: Logger,
): Promise<Listener> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      Promise.resolve()
        .then(render)
        .then(
          (body) =>
            res
              .writeHead(200, { 'content-type': METRICS_CONTENT_TYPE })
              .end(req.method === 'HEAD' ? undefined : body),
          (err: unknown) => {
            logger.error({ err, transport: 'metrics' }, 'rendering /metrics failed');
            res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
          },
        );
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
    }
  });
  server.on('error', (err) => logger.error({ err, transport: 'metrics' }, 'listener error'));
  await listen(server, port, host);
  return trackServer(server, 'metrics', host);
}
