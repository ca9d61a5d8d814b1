// One session's `$SYS/access/...` view (sys-topics.ts): the state sent when the client subscribes
// (retained, like a broker's $SYS), and the changes published as they happen.
import type { Packet } from 'mqtt-packet';
import type { AccessCounters, TransitionRecord } from './counters.ts';
import type { Transition, Upstream } from './failover.ts';
import { SysTopic, activeName, matchesAny, statsPayload } from './sys-topics.ts';

export interface SessionSysPorts {
  clientId(): string;
  readonly counters: AccessCounters;
  /** Which broker takes the client's PUBLISHes now, and which are up. */
  active(): Upstream | null;
  isUp(upstream: Upstream): boolean;
  /** The client's `$SYS/access` filters; publishing happens only while the session is ready. */
  sysFilters(): ReadonlySet<string>;
  ready(): boolean;
  sendPacket(packet: Packet): void;
}

function eventPayload(t: Transition | TransitionRecord): string {
  return JSON.stringify({
    kind: t.kind,
    from: activeName(t.from),
    to: activeName(t.to),
    cause: t.cause,
    at: t.at,
  });
}

export class SessionSys {
  constructor(private readonly ports: SessionSysPorts) {}

  /** The current state, retained, for the topics under the client's new `filters`. */
  sendState(filters: string[]): void {
    const p = this.ports;
    const state: [string, string][] = [
      [SysTopic.Active, activeName(p.active())],
      [SysTopic.Broker1, p.isUp(0) ? 'up' : 'down'],
      [SysTopic.Broker2, p.isUp(1) ? 'up' : 'down'],
      [SysTopic.Stats, statsPayload(p.counters)],
    ];
    let last: TransitionRecord | undefined;
    for (const r of p.counters.recent) if (r.clientId === p.clientId()) last = r;
    if (last) state.push([SysTopic.Event, eventPayload(last)]);
    for (const [topic, payload] of state) {
      if (matchesAny(filters, topic))
        p.sendPacket({ cmd: 'publish', topic, payload, qos: 0, retain: true, dup: false });
    }
  }

  /** A broker went up or down. */
  upstream(upstream: Upstream, state: 'up' | 'down'): void {
    this.publish(upstream === 0 ? SysTopic.Broker1 : SysTopic.Broker2, state);
  }

  /** The active broker changed. */
  transition(t: Transition): void {
    this.publish(SysTopic.Active, activeName(t.to));
    this.publish(SysTopic.Event, eventPayload(t));
  }

  private publish(topic: string, payload: string): void {
    const filters = this.ports.sysFilters();
    if (filters.size === 0 || !this.ports.ready()) return;
    if (matchesAny(filters, topic))
      this.ports.sendPacket({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false });
  }
}
