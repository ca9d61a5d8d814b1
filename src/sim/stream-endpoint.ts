// Serves request/response frames on one byte stream (a TCP socket or a serial port): collects bytes,
// cuts frames, asks the device for the answer and applies the fault of the moment.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { corrupt, type FaultInjector } from './faults.ts';

export type Extract = { frame: Uint8Array; length: number } | { need: true } | { skip: number };

export interface FrameDevice {
  /** Finds one request at the start of `buf`. */
  extract(buf: Uint8Array): Extract;
  /** The answer to one request, or undefined to stay silent (not addressed to us). */
  answer(request: Uint8Array): Uint8Array | undefined;
  /** Where the checksum sits, counted from the end of an answer (for the bad-checksum fault). */
  readonly checksumFromEnd: number;
}

/** Bytes that arrive with a pause longer than this start a new request (serial inter-frame gap). */
const STALE_BYTES_MS = 500;

export function serveStream(
  stream: Duplex,
  device: FrameDevice,
  faults: FaultInjector,
  onRequest?: (request: Uint8Array) => void,
): () => void {
  let buf = Buffer.alloc(0);
  let lastData = 0;
  const timers = new Set<NodeJS.Timeout>();
  const onData = (chunk: Buffer) => {
    const now = Date.now();
    if (now - lastData > STALE_BYTES_MS) buf = Buffer.alloc(0);
    lastData = now;
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const cut = device.extract(buf);
      if ('need' in cut) return;
      if ('skip' in cut) {
        buf = buf.subarray(Math.max(1, cut.skip));
        continue;
      }
      buf = buf.subarray(cut.length);
      onRequest?.(cut.frame);
      respond(cut.frame);
    }
  };
  const respond = (request: Uint8Array) => {
    const answer = device.answer(request);
    if (!answer) return;
    const fault = faults.next();
    switch (fault.mode) {
      case 'no-answer':
        return;
      case 'disconnect':
        stream.destroy();
        return;
      case 'bad-checksum':
        stream.write(corrupt(answer, device.checksumFromEnd));
        return;
      case 'late': {
        const t = setTimeout(() => {
          timers.delete(t);
          if (!stream.destroyed) stream.write(answer);
        }, fault.delayMs);
        timers.add(t);
        return;
      }
      default:
        stream.write(answer);
    }
  };
  stream.on('data', onData);
  return () => {
    stream.off('data', onData);
    for (const t of timers) clearTimeout(t);
    timers.clear();
  };
}

/** A TCP server that serves `device` on every connection (simulators reached over TCP). */
export interface TcpEndpoint {
  readonly port: number;
  readonly faults: FaultInjector;
  /** Requests received so far, over all connections. */
  readonly requests: number;
  close(): Promise<void>;
}

export async function serveTcp(
  device: FrameDevice,
  faults: FaultInjector,
  options: { host?: string; port?: number } = {},
): Promise<TcpEndpoint> {
  const sockets = new Set<net.Socket>();
  let requests = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    const stop = serveStream(socket, device, faults, () => requests++);
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
