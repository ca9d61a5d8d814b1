// The client's connection as the session sees it: whole frames in (split from the byte stream), with
// reading paused and resumed on request, and frames out, corked so that the frames one incoming
// chunk produces leave in one write.
import type { Duplex } from 'node:stream';
import { FrameSplitter } from './frames.ts';

export interface ClientSocketListener {
  /** A whole frame from the client. */
  onClientFrame(frame: Buffer): void;
  /** The stream could not be split into frames (a malformed length): the message says why. */
  onClientMalformed(message: string): void;
  /** The connection ended or failed. */
  onClientGone(): void;
}

export class ClientSocket {
  private readonly splitter = new FrameSplitter();
  private corked = false;
  private pausedReading = false;
  private ended = false;
  /** When the client last sent anything (for the keep-alive watch). */
  lastRx: number;

  constructor(
    private readonly socket: Duplex,
    private readonly listener: ClientSocketListener,
    private readonly now: () => number,
  ) {
    this.lastRx = now();
    socket.on('data', (chunk: Buffer) => {
      this.lastRx = this.now();
      try {
        this.splitter.push(chunk, this.onFrame);
      } catch (err) {
        this.listener.onClientMalformed((err as Error).message);
      }
    });
    socket.on('error', () => this.listener.onClientGone());
    socket.on('close', () => this.listener.onClientGone());
  }

  /** Returns false when reading must pause (the splitter keeps the rest of the chunk). */
  private readonly onFrame = (frame: Buffer): boolean => {
    this.listener.onClientFrame(frame);
    return !this.pausedReading;
  };

  get paused(): boolean {
    return this.pausedReading;
  }

  write(frame: Buffer): void {
    if (this.ended) return;
    if (!this.corked) {
      this.corked = true; // see UpstreamLink.send: one write per incoming chunk
      (this.socket as Duplex & { cork(): void }).cork();
      process.nextTick(this.uncork);
    }
    this.socket.write(frame);
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  pause(): void {
    if (this.pausedReading) return;
    this.pausedReading = true;
    this.socket.pause();
  }

  /** Resumes reading: the frames left in the last chunk first (one may pause reading again). */
  resume(): void {
    if (!this.pausedReading) return;
    this.pausedReading = false;
    try {
      this.splitter.resume(this.onFrame);
    } catch (err) {
      return this.listener.onClientMalformed((err as Error).message);
    }
    if (!this.pausedReading) this.socket.resume();
  }

  /** Closes the connection: `graceful` ends it after what was written, otherwise it is destroyed. */
  end(graceful: boolean): void {
    this.ended = true;
    if (this.corked) this.uncork(); // a last CONNACK / DISCONNECT must leave before the socket goes
    if (graceful) this.socket.end();
    else this.socket.destroy();
  }
}
