import type { Server } from 'node:net';
import type { Socket } from 'node:net';
import type { Listener, Transport } from './types.ts';

/**
 * Wraps a listening server into a Listener: keeps the set of open sockets so that shutdown can wait
 * for the broker to end them (after DISCONNECT 0x8B) and destroy what is left after a grace period.
 */
export function trackServer(server: Server, transport: Transport, host: string): Listener {
  const sockets = new Set<Socket>();
  // one listener for every socket ('close' comes once): no closure or once-wrapper per connection
  function forget(this: Socket): void {
    sockets.delete(this);
  }
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', forget);
  });
  let closed: Promise<void> | undefined;
  const stopAccepting = () => {
    closed ??= new Promise<void>((resolve) => server.close(() => resolve()));
  };
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    transport,
    host,
    port,
    stopAccepting,
    async drain(graceMs: number) {
      stopAccepting();
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}

/** `server.listen` as a promise that rejects on EADDRINUSE and the like. */
export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
