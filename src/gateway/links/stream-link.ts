// One request/response channel to devices over a byte stream: a TCP connection (reconnected on demand)
// or a serial line shared by several devices (an RS-485 bus). Requests go out one at a time; answers are
// cut from the byte stream with the contract's `split`.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { SplitResult } from '../../contracts/index.ts';

export class LinkError extends Error {
  readonly reason: 'timeout' | 'closed' | 'connect';
  constructor(reason: LinkError['reason'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LinkError';
    this.reason = reason;
  }
}

export interface LinkRequest {
  frame: Uint8Array;
  timeoutMs: number;
  split(stream: Uint8Array): SplitResult;
  /** True when `answer` answers this request (not a stale answer to an earlier, timed-out one). */
  accept(answer: Uint8Array): boolean;
}

export interface DeviceLink {
  readonly name: string;
  request(req: LinkRequest): Promise<Uint8Array>;
  close(): Promise<void>;
}

type Opener = () => Promise<Duplex>;

export const DEFAULT_RECONNECT_DELAY_MS = 1000;

export class StreamLink implements DeviceLink {
  private stream: Duplex | undefined;
  private opening: Promise<Duplex> | undefined;
  private buf = Buffer.alloc(0);
  private waiter: { req: LinkRequest; resolve(b: Uint8Array): void } | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** After a failed connect, requests fail at once until then instead of hammering a dead endpoint. */
  private retryConnectAt = 0;

  constructor(
    readonly name: string,
    private readonly open: Opener,
    private readonly reconnectDelayMs = DEFAULT_RECONNECT_DELAY_MS,
  ) {}

  /** Queues the request behind the ones already running on this link. */
  request(req: LinkRequest): Promise<Uint8Array> {
    const run = this.tail.then(() => this.exchange(req));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async connect(): Promise<Duplex> {
    if (this.closed) throw new LinkError('closed', `${this.name}: link closed`);
    if (this.stream && !this.stream.destroyed) return this.stream;
    if (!this.opening && Date.now() < this.retryConnectAt)
      throw new LinkError(
        'connect',
        `${this.name}: not reachable, next attempt in ${this.retryConnectAt - Date.now()} ms`,
      );
    this.opening ??= this.open().then(
      (stream) => {
        this.opening = undefined;
        this.stream = stream;
        this.buf = Buffer.alloc(0);
        stream.on('data', (chunk: Buffer) => this.onData(chunk));
        stream.on('error', () => stream.destroy());
        stream.on('close', () => {
          if (this.stream === stream) this.stream = undefined;
        });
        return stream;
      },
      (err: unknown) => {
        this.opening = undefined;
        this.retryConnectAt = Date.now() + this.reconnectDelayMs;
        throw new LinkError('connect', `${this.name}: ${(err as Error).message}`, { cause: err });
      },
    );
    return this.opening;
  }

  private async exchange(req: LinkRequest): Promise<Uint8Array> {
    const stream = await this.connect();
    this.buf = Buffer.alloc(0); // whatever came unasked belongs to no request
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        stream.off('close', onClose);
        reject(new LinkError('timeout', `${this.name}: no answer within ${req.timeoutMs} ms`));
      }, req.timeoutMs);
      const onClose = () => {
        clearTimeout(timer);
        this.waiter = undefined;
        reject(new LinkError('closed', `${this.name}: connection closed`));
      };
      stream.once('close', onClose);
      this.waiter = {
        req,
        resolve: (answer) => {
          clearTimeout(timer);
          stream.off('close', onClose);
          this.waiter = undefined;
          resolve(answer);
        },
      };
      stream.write(req.frame);
    });
  }

  private onData(chunk: Buffer): void {
    if (!this.waiter) return; // nobody asked: drop (late answer to a request that timed out)
    this.buf = Buffer.concat([this.buf, chunk]);
    while (this.waiter && this.buf.length > 0) {
      const cut = this.waiter.req.split(this.buf);
      if ('need' in cut) return;
      if ('skip' in cut) {
        this.buf = this.buf.subarray(Math.max(1, cut.skip));
        continue;
      }
      const frame = Buffer.from(cut.frame);
      this.buf = this.buf.subarray(cut.end);
      if (this.waiter.req.accept(frame)) this.waiter.resolve(frame);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const stream = this.stream ?? (await this.opening?.catch(() => undefined));
    if (!stream) return;
    await new Promise<void>((resolve) => {
      if (stream.destroyed) return resolve();
      stream.once('close', () => resolve());
      stream.destroy();
    });
  }
}

export function tcpOpener(host: string, port: number, connectTimeoutMs = 3000): Opener {
  return () =>
    new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.setNoDelay(true);
      const timer = setTimeout(
        () => socket.destroy(new Error(`connect timeout to ${host}:${port}`)),
        connectTimeoutMs,
      );
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', reject);
        resolve(socket);
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
}
