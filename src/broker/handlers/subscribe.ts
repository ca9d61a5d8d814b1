/**
 * SUBSCRIBE (MQTT 5.0 §3.8): per-filter checks and authorisation, SUBACK with one code per
 * filter [MQTT-3.8.4-6], then retained messages per Retain Handling [MQTT-3.3.1-9..11].
 */
import type { ISubscribePacket, ISubscription } from 'mqtt-packet';
import { ReasonCode, SUBACK_FAILURE_V4 } from '../../protocol/reason-codes.ts';
import { hasWildcard, isValidTopicFilter, parseSharedFilter } from '../../protocol/topic.ts';
import type { HandlerContext } from './context.ts';
import { ProtocolViolation } from '../errors.ts';
import { Subscription } from '../subscription.ts';
import type { Session } from '../session.ts';
import type { QoS } from '../types.ts';

export function handleSubscribe(ch: HandlerContext, p: ISubscribePacket): void {
  const engine = ch.engine;
  const o = engine.options;
  const subId = ch.v5 ? p.properties?.subscriptionIdentifier : undefined;
  if (subId !== undefined && !o.subscriptionIdentifiersAvailable) {
    // the CONNACK said they are not supported (Subscription Identifiers Available = 0)
    throw new ProtocolViolation(ReasonCode.SubscriptionIdentifiersNotSupported, 'subscription identifiers');
  }
  if (p.subscriptions.length === 0) throw new ProtocolViolation(ReasonCode.ProtocolError, 'empty SUBSCRIBE'); // [MQTT-3.8.3-2]
  const granted: number[] = [];
  const added: { sub: Subscription<Session>; isNew: boolean }[] = [];
  for (const s of p.subscriptions) {
    const code = check(ch, s);
    if (code >= 0x80) {
      granted.push(ch.v5 ? code : SUBACK_FAILURE_V4);
      continue;
    }
    const shared = parseSharedFilter(s.topic);
    const sub = new Subscription(
      ch.session!,
      s.topic,
      shared ? shared.filter : s.topic,
      shared ? shared.group : undefined,
      code as QoS,
      ch.v5 && s.nl === true,
      ch.v5 && s.rap === true,
      ch.v5 ? ((s.rh ?? 0) as 0 | 1 | 2) : 0,
      subId,
    );
    const isNew = engine.subscribe(ch.session!, sub);
    added.push({ sub, isNew });
    granted.push(code);
  }
  const suback = { cmd: 'suback' as const, messageId: p.messageId ?? 0, granted };
  ch.send(suback);
  for (const { sub, isNew } of added) engine.sendRetained(ch.session!, sub, isNew);
}

/** Returns the granted QoS, or a failure reason code (≥ 0x80). */
function check(ch: HandlerContext, s: ISubscription): number {
  const o = ch.engine.options;
  const filter = s.topic;
  const shared = parseSharedFilter(filter);
  if (shared === null || (shared === undefined && !isValidTopicFilter(filter)))
    return ReasonCode.TopicFilterInvalid;
  if (shared !== undefined) {
    // shared subscriptions are an MQTT 5 feature; 3.1/3.1.1 clients may use them too (as with
    // Mosquitto and EMQX), which lets older ingest workers share a load
    if (!o.sharedSubscriptionAvailable) return ReasonCode.SharedSubscriptionsNotSupported;
    // [MQTT-3.8.3-4] no-local on a shared subscription is a protocol error
    if (s.nl === true)
      throw new ProtocolViolation(ReasonCode.ProtocolError, 'no local on shared subscription');
  }
  const inner = shared ? shared.filter : filter;
  if (!o.wildcardSubscriptionAvailable && hasWildcard(inner))
    return ReasonCode.WildcardSubscriptionsNotSupported;
  if (o.denySubscribe.includes(filter)) return ReasonCode.UnspecifiedError;
  let qos = Math.min(s.qos, o.maximumQoS);
  const hook = ch.engine.hooks.authorizeSubscribe;
  if (hook !== undefined) {
    const r = hook(ch.info, filter, qos as QoS);
    if (r === false) return ReasonCode.NotAuthorized;
    if (typeof r === 'number') {
      if (r >= 0x80) return r;
      qos = Math.min(qos, r);
    }
  }
  return qos;
}
