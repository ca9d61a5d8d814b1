// The platform-side heartbeat (docs/protocol.md "Heartbeat and online status"): every known gateway gets one
// every period (default one minute), and one at once after its birth (docs/protocol.md). Pure: the
// edge calls tick() and publishes what it returns.

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 60_000;

export class HeartbeatScheduler {
  readonly intervalMs: number;
  readonly #nextDue = new Map<string, number>();

  constructor(intervalMs = DEFAULT_HEARTBEAT_INTERVAL_MS) {
    if (!Number.isInteger(intervalMs) || intervalMs <= 0)
      throw new RangeError('heartbeat.intervalMs must be a positive integer');
    this.intervalMs = intervalMs;
  }

  /** A gateway became known (registry load or first uplink); its first heartbeat is due now. */
  addGateway(gatewayId: string, now: number): void {
    if (!this.#nextDue.has(gatewayId)) this.#nextDue.set(gatewayId, now);
  }

  removeGateway(gatewayId: string): void {
    this.#nextDue.delete(gatewayId);
  }

  /** The gateway sent its birth: answer with a heartbeat at once, then continue the period from now. */
  birth(gatewayId: string, now: number): string[] {
    this.#nextDue.set(gatewayId, now + this.intervalMs);
    return [gatewayId];
  }

  /** Gateways whose heartbeat is due at `now`. */
  tick(now: number): string[] {
    const due: string[] = [];
    for (const [gatewayId, at] of this.#nextDue) {
      if (at > now) continue;
      due.push(gatewayId);
      // Keep a fixed cadence without bunching up after a long pause (e.g. a suspended process).
      let next = at + this.intervalMs;
      if (next <= now) next = now + this.intervalMs;
      this.#nextDue.set(gatewayId, next);
    }
    return due;
  }

  get gateways(): string[] {
    return [...this.#nextDue.keys()];
  }
}
