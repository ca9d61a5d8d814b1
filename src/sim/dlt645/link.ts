// DL/T 645 meters on one link: several meters (addresses) share a serial bus or a TCP connection.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { FaultInjector } from '../faults.ts';
import { serveStream, type FrameDevice } from '../stream-endpoint.ts';
import type { Dlt645Meter } from './meter.ts';

/** Frames are cut by the first meter (all share the framing); the addressed meter answers. */
export function dlt645Bus(meters: readonly Dlt645Meter[]): FrameDevice {
  const first = meters[0]!;
  return {
    checksumFromEnd: first.checksumFromEnd,
    extract: (buf) => first.extract(buf),
    answer(request) {
      for (const meter of meters) {
        const answer = meter.answer(request);
        if (answer) return answer;
      }
      return undefined;
    },
  };
}

export interface Dlt645Link {
  readonly faults: FaultInjector;
  readonly requests: number;
  /** TCP listener port (TCP links only). */
  readonly port?: number;
  close(): Promise<void>;
}

export function serveDlt645Stream(
  stream: Duplex,
  meters: readonly Dlt645Meter[],
  faults = new FaultInjector(),
): Dlt645Link & { stop(): void } {
  let requests = 0;
  const stop = serveStream(stream, dlt645Bus(meters), faults, () => requests++);
  return {
    faults,
    get requests() {
      return requests;
    },
    stop,
    close: async () => stop(),
  };
}

export async function startDlt645TcpServer(
  meters: readonly Dlt645Meter[],
  options: { host?: string; port?: number; faults?: FaultInjector } = {},
): Promise<Dlt645Link> {
  const faults = options.faults ?? new FaultInjector();
  const bus = dlt645Bus(meters);
  const sockets = new Set<net.Socket>();
  let requests = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    const stop = serveStream(socket, bus, faults, () => requests++);
    socket.on('close', () => {
      stop();
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  return {
    faults,
    port: (server.address() as net.AddressInfo).port,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
