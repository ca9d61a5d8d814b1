/**
 * Who gets a message published on one topic: the matching subscriptions folded per session
 * (overlapping subscriptions → one delivery at the highest QoS, carrying every subscription
 * identifier [MQTT-3.3.4-2..5]) plus the matching shared-subscription groups. Plans are cached
 * per topic and dropped whenever any subscription changes, so the hot path does one Map lookup.
 */
import type { Session } from './session.ts';
import type { Subscription } from './subscription.ts';
import type { MatchVisitor, SharedGroup } from './topic-tree.ts';
import type { QoS } from './types.ts';

export interface Delivery {
  session: Session;
  qos: QoS;
  retainAsPublished: boolean;
  noLocal: boolean;
  subscriptionIds: number[] | undefined;
}

export class RoutePlan implements MatchVisitor<Subscription<Session>> {
  readonly deliveries: Delivery[] = [];
  readonly groups: SharedGroup<Subscription<Session>>[] = [];
  private bySession: Map<Session, Delivery> | undefined;

  onSubscription(sub: Subscription<Session>): void {
    const session = sub.owner;
    const id =
      sub.subscriptionId !== undefined && session.protocolVersion === 5 ? sub.subscriptionId : undefined;
    const map = (this.bySession ??= new Map());
    const d = map.get(session);
    if (d === undefined) {
      const nd: Delivery = {
        session,
        qos: sub.qos,
        retainAsPublished: sub.retainAsPublished,
        noLocal: sub.noLocal,
        subscriptionIds: id === undefined ? undefined : [id],
      };
      map.set(session, nd);
      this.deliveries.push(nd);
      return;
    }
    if (sub.qos > d.qos) d.qos = sub.qos;
    d.retainAsPublished ||= sub.retainAsPublished;
    d.noLocal &&= sub.noLocal;
    if (id !== undefined) (d.subscriptionIds ??= []).push(id);
  }

  onSharedGroup(group: SharedGroup<Subscription<Session>>): void {
    this.groups.push(group);
  }

  /** Done building: drop the helper map. */
  seal(): this {
    this.bySession = undefined;
    return this;
  }
}

/** Round-robin member of a share group, preferring connected sessions. */
export function pickMember(group: SharedGroup<Subscription<Session>>): Subscription<Session> | undefined {
  const n = group.members.size;
  if (n === 0) return undefined;
  const members = [...group.members.values()];
  const start = group.cursor++ % n;
  for (let k = 0; k < n; k++) {
    const m = members[(start + k) % n]!;
    if (m.owner.link !== null) return m;
  }
  return members[start];
}
