import type { IConnackPacket } from 'mqtt-packet';
import { ConnectReturnCode, ReasonCode } from '../protocol/reason-codes.ts';
import type { Clock } from './clock.ts';
import { Upstream } from './failover.ts';

/**
 * Merging the two brokers' answers to a CONNECT / SUBSCRIBE / UNSUBSCRIBE into the one answer the
 * client gets (docs/access.md, "Merging the answers"). The rule everywhere: the client is told
 * "yes" when at least one broker said yes (it can work through that one; the other is retried),
 * and a refusal is passed on only when every broker that answered refused — Broker1's refusal
 * first. A broker that is down or silent does not count.
 */

/** One pending request sent to the brokers that were up; says when the answer can be given. */
export class PendingMerge<R> {
  readonly replies: [R | undefined, R | undefined] = [undefined, undefined];
  private readonly waiting: [boolean, boolean];
  private firstSuccessAt: number | undefined;
  private deadline: number;

  /**
   * @param expected which upstreams the request went to
   * @param mergeWaitMs once one broker said yes, how long to wait for the other
   * @param timeoutMs absolute limit from the request
   */
  constructor(
    expected: readonly Upstream[],
    private readonly clock: Clock,
    private readonly mergeWaitMs: number,
    timeoutMs: number,
  ) {
    this.waiting = [expected.includes(Upstream.Broker1), expected.includes(Upstream.Broker2)];
    this.deadline = clock.now() + timeoutMs;
  }

  isWaitingFor(upstream: Upstream): boolean {
    return this.waiting[upstream];
  }

  reply(upstream: Upstream, reply: R, success: boolean): void {
    if (!this.waiting[upstream]) return;
    this.waiting[upstream] = false;
    this.replies[upstream] = reply;
    if (success && this.firstSuccessAt === undefined) this.firstSuccessAt = this.clock.now();
  }

  /** Something is still moving (an enhanced authentication step): the absolute limit starts again. */
  extend(timeoutMs: number): void {
    this.deadline = Math.max(this.deadline, this.clock.now() + timeoutMs);
  }

  /** The upstream went down before answering: stop waiting for it. */
  lost(upstream: Upstream): void {
    this.waiting[upstream] = false;
  }

  isComplete(): boolean {
    if (!this.waiting[0] && !this.waiting[1]) return true;
    const now = this.clock.now();
    if (this.firstSuccessAt !== undefined && now >= this.firstSuccessAt + this.mergeWaitMs) return true;
    return now >= this.deadline;
  }

  nextDeadline(): number {
    return this.firstSuccessAt === undefined
      ? this.deadline
      : Math.min(this.deadline, this.firstSuccessAt + this.mergeWaitMs);
  }
}

export function connackCode(packet: IConnackPacket, v5: boolean): number {
  return (v5 ? packet.reasonCode : packet.returnCode) ?? 0;
}

export interface MergedConnack {
  readonly accepted: Upstream[];
  readonly connack: IConnackPacket;
}

/** The client's CONNACK from the brokers' CONNACKs (undefined: down or no answer in time). */
export function mergeConnack(
  replies: readonly [IConnackPacket | undefined, IConnackPacket | undefined],
  v5: boolean,
): MergedConnack {
  const accepted: Upstream[] = [];
  for (const u of [Upstream.Broker1, Upstream.Broker2]) {
    const r = replies[u];
    if (r !== undefined && connackCode(r, v5) === ReasonCode.Success) accepted.push(u);
  }
  if (accepted.length > 0) {
    // Session present only when every accepting broker kept the session; otherwise the client
    // subscribes again, which is harmless, while a wrong "present" would lose subscriptions.
    const sessionPresent = accepted.every((u) => replies[u]!.sessionPresent);
    const connack: IConnackPacket = { cmd: 'connack', sessionPresent };
    if (v5) {
      connack.reasonCode = ReasonCode.Success;
      connack.properties = mergeConnackProperties(accepted.map((u) => replies[u]!));
    } else {
      connack.returnCode = ConnectReturnCode.Accepted;
    }
    return { accepted, connack };
  }
  const refusal = replies[Upstream.Broker1] ?? replies[Upstream.Broker2];
  if (refusal !== undefined) {
    const connack: IConnackPacket = { cmd: 'connack', sessionPresent: false }; // [MQTT-3.2.2-6]
    if (v5) {
      connack.reasonCode = connackCode(refusal, true);
      if (refusal.properties?.reasonString)
        connack.properties = { reasonString: refusal.properties.reasonString };
    } else connack.returnCode = connackCode(refusal, false);
    return { accepted, connack };
  }
  const connack: IConnackPacket = { cmd: 'connack', sessionPresent: false };
  if (v5) connack.reasonCode = ReasonCode.ServerUnavailable;
  else connack.returnCode = ConnectReturnCode.ServerUnavailable;
  return { accepted, connack };
}

type ConnackProperties = NonNullable<IConnackPacket['properties']>;

/** The capabilities both accepting brokers support (minimums, ANDs); no topic aliases. */
function mergeConnackProperties(accepting: IConnackPacket[]): ConnackProperties {
  const out: ConnackProperties = {};
  const min = (values: (number | undefined)[]) => {
    const set = values.filter((v): v is number => v !== undefined);
    return set.length > 0 ? Math.min(...set) : undefined;
  };
  const all = (values: (boolean | undefined)[]) => (values.some((v) => v === false) ? false : undefined);
  const props = accepting.map((p) => p.properties ?? {});
  const receiveMaximum = min(props.map((p) => p.receiveMaximum));
  if (receiveMaximum !== undefined) out.receiveMaximum = receiveMaximum;
  const maximumQoS = min(props.map((p) => p.maximumQoS));
  if (maximumQoS !== undefined) out.maximumQoS = maximumQoS;
  const maximumPacketSize = min(props.map((p) => p.maximumPacketSize));
  if (maximumPacketSize !== undefined) out.maximumPacketSize = maximumPacketSize;
  const sessionExpiryInterval = min(props.map((p) => p.sessionExpiryInterval));
  if (sessionExpiryInterval !== undefined) out.sessionExpiryInterval = sessionExpiryInterval;
  const retainAvailable = all(props.map((p) => p.retainAvailable));
  if (retainAvailable !== undefined) out.retainAvailable = retainAvailable;
  const wildcard = all(props.map((p) => p.wildcardSubscriptionAvailable));
  if (wildcard !== undefined) out.wildcardSubscriptionAvailable = wildcard;
  const subIds = all(props.map((p) => p.subscriptionIdentifiersAvailable));
  if (subIds !== undefined) out.subscriptionIdentifiersAvailable = subIds;
  const shared = all(props.map((p) => p.sharedSubscriptionAvailable));
  if (shared !== undefined) out.sharedSubscriptionAvailable = shared;
  // A topic alias is bound to one link; after a failover Broker2 would not know it. [MQTT-3.2.2-17]
  out.topicAliasMaximum = 0;
  return out;
}

const FAILURE = 0x80;

/**
 * SUBACK codes per filter: granted when any broker granted (the highest QoS granted, the most the
 * client may receive), else Broker1's failure code, else Broker2's.
 */
export function mergeSuback(
  replies: readonly [readonly number[] | undefined, readonly number[] | undefined],
  requested: readonly number[],
): number[] {
  return requested.map((qos, i) => {
    const a = replies[0]?.[i];
    const b = replies[1]?.[i];
    const grantedA = a !== undefined && a < FAILURE;
    const grantedB = b !== undefined && b < FAILURE;
    if (grantedA && grantedB) return Math.max(a, b);
    if (grantedA) return a;
    if (grantedB) return b;
    return a ?? b ?? qos; // nobody answered: granted locally, replayed when a broker returns
  });
}

/** UNSUBACK codes per filter (MQTT 5): success when any broker had it, else "no subscription", else Broker1's. */
export function mergeUnsuback(
  replies: readonly [readonly number[] | undefined, readonly number[] | undefined],
  count: number,
): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const codes = [replies[0]?.[i], replies[1]?.[i]];
    if (codes.includes(ReasonCode.Success)) out.push(ReasonCode.Success);
    else if (codes.includes(ReasonCode.NoSubscriptionExisted)) out.push(ReasonCode.NoSubscriptionExisted);
    else out.push(codes[0] ?? codes[1] ?? ReasonCode.Success);
  }
  return out;
}
