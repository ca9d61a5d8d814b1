// The client's PINGREQ: forwarded to every broker that is up, answered when the first PINGRESP comes
// back (so a PINGRESP proves the path through the module), and by the module itself after a short wait
// or at once when no broker is up (the module is alive; the client should not drop it for that).
import { PINGREQ_FRAME, PINGRESP_FRAME } from './frames.ts';

/** Our PINGRESP when no broker answers the forwarded PINGREQ in this time (the module itself is alive). */
export const PING_ANSWER_MS = 1000;

export interface PingPorts {
  /** The upstreams that are up now, to forward to. */
  upstreamsUp(): readonly number[];
  sendUpstream(upstream: number, frame: Buffer): void;
  sendClient(frame: Buffer): void;
}

export class PingRelay {
  private pending = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ports: PingPorts) {}

  /** A PINGREQ from the client. */
  request(): void {
    const up = this.ports.upstreamsUp();
    if (up.length === 0) return this.ports.sendClient(PINGRESP_FRAME);
    this.pending++;
    for (const u of up) this.ports.sendUpstream(u, PINGREQ_FRAME);
    if (this.timer === undefined) this.timer = setTimeout(() => this.answer(), PING_ANSWER_MS);
  }

  /** A PINGRESP from a broker, or no broker left to answer: every waiting PINGREQ is answered. */
  answer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (; this.pending > 0; this.pending--) this.ports.sendClient(PINGRESP_FRAME);
  }

  get waiting(): boolean {
    return this.pending > 0;
  }

  close(): void {
    clearTimeout(this.timer);
  }
}
