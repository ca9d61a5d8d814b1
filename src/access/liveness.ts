import type { Clock } from './clock.ts';

/**
 * Keep-alive of one upstream link, seen from our side (like nats.js core/src/heartbeats.ts).
 * We ping when the link has been quiet for half the keep-alive, so a live broker always answers
 * well within one keep-alive; a link that has received nothing for a whole keep-alive is dead.
 * Silence is therefore noticed after 1 to 1.1 keep-alives (checks every tenth), below the
 * 1.5 × keep-alive a broker itself would wait [MQTT-3.1.2-24].
 */
export const LivenessVerdict = { Ok: 'ok', Ping: 'ping', Dead: 'dead' } as const;
export type LivenessVerdict = (typeof LivenessVerdict)[keyof typeof LivenessVerdict];

export class Liveness {
  private lastRx: number;
  private lastTx: number;
  private pingOutstanding = false;

  constructor(
    readonly keepAliveMs: number,
    private readonly clock: Clock,
  ) {
    this.lastRx = this.lastTx = clock.now();
  }

  /** How often the edge should call `check()`. */
  get checkIntervalMs(): number {
    return Math.max(10, Math.floor(this.keepAliveMs / 10));
  }

  received(isPingResponse = false): void {
    this.lastRx = this.clock.now();
    if (isPingResponse) this.pingOutstanding = false;
  }

  sent(): void {
    this.lastTx = this.clock.now();
  }

  reset(): void {
    this.lastRx = this.lastTx = this.clock.now();
    this.pingOutstanding = false;
  }

  check(): LivenessVerdict {
    if (this.keepAliveMs <= 0) return LivenessVerdict.Ok;
    const now = this.clock.now();
    if (now - this.lastRx >= this.keepAliveMs) return LivenessVerdict.Dead;
    const half = this.keepAliveMs / 2;
    if (!this.pingOutstanding && (now - this.lastRx >= half || now - this.lastTx >= half)) {
      this.pingOutstanding = true;
      this.lastTx = now;
      return LivenessVerdict.Ping;
    }
    return LivenessVerdict.Ok;
  }
}
