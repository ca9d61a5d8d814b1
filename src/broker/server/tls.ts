import { readFileSync } from 'node:fs';
import { createServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { listen, trackServer } from './connections.ts';
import { TlsFileError, type BrokerLike, type Listener, type ListenerTlsOptions } from './types.ts';

function readPem(field: 'cert' | 'key' | 'ca', file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new TlsFileError(field, file, `cannot read: ${(err as Error).message}`, { cause: err });
  }
}

/** MQTT over TLS; with a CA bundle configured, client certificates are requested and verified. */
export async function listenTls(
  broker: BrokerLike,
  host: string,
  tls: ListenerTlsOptions & { cert: string; key: string },
  logger: Logger,
): Promise<Listener> {
  const ca = tls.ca === null ? undefined : readPem('ca', tls.ca);
  const server = createServer(
    {
      cert: readPem('cert', tls.cert),
      key: readPem('key', tls.key),
      ca,
      requestCert: ca !== undefined,
      rejectUnauthorized: ca !== undefined,
    },
    (socket: TLSSocket) => {
      socket.setNoDelay(true);
      broker.handle(socket, { remoteAddress: socket.remoteAddress, transport: 'tls' });
    },
  );
  server.on('tlsClientError', (err) => logger.debug({ err, transport: 'tls' }, 'TLS handshake failed'));
  server.on('error', (err) => logger.error({ err, transport: 'tls' }, 'listener error'));
  await listen(server, tls.port, host);
  return trackServer(server, 'tls', host);
}
