import { createServer, type IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { createWebSocketStream, WebSocketServer, type WebSocket } from 'ws';
import { listen, trackServer } from './connections.ts';
import type { BrokerLike, Listener } from './types.ts';

/** Subprotocols we answer to: `mqtt` (MQTT 3.1.1 and 5.0, §6) and the 3.1 name some old clients send. */
const SUBPROTOCOLS = ['mqtt', 'mqttv3.1'] as const;

/** Picks `mqtt` when offered. A client offering none is still served (browsers' tools often omit it). */
export function chooseSubprotocol(offered: Set<string>): string | false {
  for (const name of SUBPROTOCOLS) if (offered.has(name)) return name;
  return false;
}

/**
 * MQTT over WebSocket on any path (`/mqtt` is the usual one): each WebSocket becomes a byte stream
 * (binary frames, several MQTT packets per frame allowed) handed to the broker.
 */
export async function listenWebSocket(
  broker: BrokerLike,
  host: string,
  port: number,
  logger: Logger,
): Promise<Listener> {
  const server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
    res.end('MQTT over WebSocket: connect with a WebSocket client, subprotocol "mqtt"\n');
  });
  const wss = new WebSocketServer({
    server,
    handleProtocols: (offered) => chooseSubprotocol(offered),
    perMessageDeflate: false,
  });
  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const stream = createWebSocketStream(ws);
    // A WebSocket torn down mid-write surfaces as a stream error; the broker sees 'close' either way.
    stream.on('error', (err) => logger.debug({ err, transport: 'ws' }, 'websocket stream error'));
    broker.handle(stream, { remoteAddress: req.socket.remoteAddress, transport: 'ws' });
  });
  wss.on('error', (err) => logger.error({ err, transport: 'ws' }, 'listener error'));
  server.on('error', (err) => logger.error({ err, transport: 'ws' }, 'listener error'));
  await listen(server, port, host);
  const listener = trackServer(server, 'ws', host);
  return {
    ...listener,
    stopAccepting() {
      wss.close();
      listener.stopAccepting();
    },
    drain(graceMs: number) {
      wss.close();
      return listener.drain(graceMs);
    },
  };
}
