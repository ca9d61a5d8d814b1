import { createServer, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { listen, trackServer } from './connections.ts';
import type { BrokerLike, Listener } from './types.ts';

/** MQTT over plain TCP: every accepted socket goes straight to the broker. */
export async function listenTcp(
  broker: BrokerLike,
  host: string,
  port: number,
  logger: Logger,
): Promise<Listener> {
  const server = createServer((socket: Socket) => {
    // MQTT packets are small and latency matters more than coalescing; the broker batches its own writes.
    socket.setNoDelay(true);
    broker.handle(socket, { remoteAddress: socket.remoteAddress, transport: 'tcp' });
  });
  server.on('error', (err) => logger.error({ err, transport: 'tcp' }, 'listener error'));
  await listen(server, port, host);
  return trackServer(server, 'tcp', host);
}
