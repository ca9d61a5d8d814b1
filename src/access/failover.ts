import type { Clock } from './clock.ts';

/**
 * Which upstream takes the PUBLISHes: the failover algorithm of Mosquitto's bridge (src/bridge.c)
 * reduced to two addresses. Broker1 is the primary; losing the active broker switches at once; going
 * back to Broker1 waits until it has stayed up for `failbackHoldMs` (so a flapping primary does not
 * drag the traffic back and forth). Pure: events in, transitions out, time from the clock.
 */

export const Upstream = { Broker1: 0, Broker2: 1 } as const;
export type Upstream = (typeof Upstream)[keyof typeof Upstream];
export const UPSTREAM_NAMES = ['broker1', 'broker2'] as const;

/** Why a link went down (or why the active broker changed). */
export const DownCause = {
  SocketClosed: 'socket-closed',
  SocketError: 'socket-error',
  KeepAliveTimeout: 'keepalive-timeout',
  ServerDisconnect: 'server-disconnect',
  ConnectFailed: 'connect-failed',
  ConnectRefused: 'connect-refused',
  ProtocolError: 'protocol-error',
  Closed: 'closed',
} as const;
export type DownCause = (typeof DownCause)[keyof typeof DownCause];

export const TransitionKind = {
  /** First broker to take traffic (or traffic resumes after both were down). */
  Activate: 'activate',
  /** The active broker was lost and the other one takes over. */
  Failover: 'failover',
  /** Broker1 has been back for the hold time and takes the traffic again. */
  Failback: 'failback',
  /** Both brokers are down: PUBLISHes wait (QoS 1/2) or are dropped (QoS 0). */
  Lost: 'lost',
} as const;
export type TransitionKind = (typeof TransitionKind)[keyof typeof TransitionKind];

export interface Transition {
  readonly kind: TransitionKind;
  readonly from: Upstream | null;
  readonly to: Upstream | null;
  readonly cause: string;
  readonly at: number;
}

export interface FailoverOptions {
  readonly failbackHoldMs: number;
}

export class FailoverController {
  private readonly up: [boolean, boolean] = [false, false];
  private readonly upSince: [number, number] = [0, 0];
  private current: Upstream | null = null;

  constructor(
    private readonly options: FailoverOptions,
    private readonly clock: Clock,
  ) {}

  get active(): Upstream | null {
    return this.current;
  }

  isUp(upstream: Upstream): boolean {
    return this.up[upstream];
  }

  upstreamUp(upstream: Upstream): Transition | undefined {
    if (this.up[upstream]) return undefined;
    this.up[upstream] = true;
    this.upSince[upstream] = this.clock.now();
    if (this.current === null) return this.switchTo(TransitionKind.Activate, upstream, 'upstream-up');
    return this.tick();
  }

  upstreamDown(upstream: Upstream, cause: string): Transition | undefined {
    if (!this.up[upstream]) return undefined;
    this.up[upstream] = false;
    if (this.current !== upstream) return undefined;
    const other = (1 - upstream) as Upstream;
    if (this.up[other]) return this.switchTo(TransitionKind.Failover, other, cause);
    return this.switchTo(TransitionKind.Lost, null, cause);
  }

  /** Call at `nextDeadline()`: performs a due failback. */
  tick(): Transition | undefined {
    const due = this.nextDeadline();
    if (due === undefined || this.clock.now() < due) return undefined;
    return this.switchTo(TransitionKind.Failback, Upstream.Broker1, 'primary-stable');
  }

  /** When a failback becomes due, if one is pending. */
  nextDeadline(): number | undefined {
    if (this.current !== Upstream.Broker2 || !this.up[Upstream.Broker1]) return undefined;
    return this.upSince[Upstream.Broker1] + this.options.failbackHoldMs;
  }

  private switchTo(kind: TransitionKind, to: Upstream | null, cause: string): Transition {
    const from = this.current;
    this.current = to;
    return Object.freeze({ kind, from, to, cause, at: this.clock.now() });
  }
}
