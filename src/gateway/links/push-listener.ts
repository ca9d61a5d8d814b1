// Devices that push their own frames: a UDP socket (one datagram = one frame) or a TCP listener (frames
// cut with the contract's `split`; bytes it cannot frame are passed on as they came).
import dgram from 'node:dgram';
import net from 'node:net';
import type { SplitResult } from '../../contracts/index.ts';

export interface PushListener {
  readonly port: number;
  close(): Promise<void>;
}

export async function listenUdp(
  host: string,
  port: number,
  onFrame: (frame: Buffer) => void,
): Promise<PushListener> {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  socket.on('message', (msg) => onFrame(msg));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => resolve());
  });
  return {
    port: socket.address().port,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** A TCP chunk that stays unframed this long is taken as one frame. */
const UNFRAMED_FLUSH_MS = 200;

export async function listenTcp(
  host: string,
  port: number,
  split: (stream: Uint8Array) => SplitResult,
  onFrame: (frame: Buffer) => void,
): Promise<PushListener> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let buf = Buffer.alloc(0);
    let flush: NodeJS.Timeout | undefined;
    socket.on('data', (chunk: Buffer) => {
      clearTimeout(flush);
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (buf.length === 0) return;
        let cut: SplitResult;
        try {
          cut = split(buf);
        } catch {
          cut = { need: 1 };
        }
        if ('frame' in cut) {
          onFrame(Buffer.from(cut.frame));
          buf = buf.subarray(cut.end);
        } else if ('skip' in cut) {
          buf = buf.subarray(Math.max(1, cut.skip));
        } else {
          flush = setTimeout(() => {
            if (buf.length) onFrame(buf);
            buf = Buffer.alloc(0);
          }, UNFRAMED_FLUSH_MS);
          return;
        }
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(flush);
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
