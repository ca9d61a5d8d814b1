import type { Transition } from './failover.ts';

/** One recorded change of the active broker, for `$SYS` and `/metrics`. */
export interface TransitionRecord extends Transition {
  readonly clientId: string;
}

const RECENT = 20;

/**
 * Counters shared by all sessions of one module (or one DualBrokerClient). Plain numbers bumped in
 * place on the hot path; read by the Prometheus endpoint and `$SYS/access/stats`.
 */
export class AccessCounters {
  /** PUBLISH sent upstream, per broker (Broker1, Broker2). */
  readonly published: [number, number] = [0, 0];
  /** QoS 1/2 PUBLISH completed by a broker (and then acknowledged to the client). */
  readonly acknowledged: [number, number] = [0, 0];
  /** PUBLISH delivered to clients, per broker it came from. */
  readonly delivered: [number, number] = [0, 0];
  readonly upstreamConnects: [number, number] = [0, 0];
  readonly upstreamDowns: [number, number] = [0, 0];
  duplicatesDropped = 0;
  /** Unfinished QoS 1/2 messages sent again to the other broker after a link was lost. */
  resent = 0;
  /** QoS 0 messages dropped because no broker was up. */
  droppedQos0 = 0;
  clientsConnected = 0;
  clientsTotal = 0;
  clientsRefused = 0;
  failovers = 0;
  failbacks = 0;
  /** Both brokers down for a session. */
  outages = 0;
  readonly causes = new Map<string, number>();
  readonly recent: TransitionRecord[] = [];

  record(record: TransitionRecord): void {
    if (record.kind === 'failover') this.failovers++;
    else if (record.kind === 'failback') this.failbacks++;
    else if (record.kind === 'lost') this.outages++;
    if (record.kind !== 'activate') this.causes.set(record.cause, (this.causes.get(record.cause) ?? 0) + 1);
    this.recent.push(record);
    if (this.recent.length > RECENT) this.recent.shift();
  }

  lastOf(kind: string): TransitionRecord | undefined {
    for (let i = this.recent.length - 1; i >= 0; i--)
      if (this.recent[i]!.kind === kind) return this.recent[i];
    return undefined;
  }
}
