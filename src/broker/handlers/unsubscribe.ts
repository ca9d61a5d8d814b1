/** UNSUBSCRIBE (MQTT 5.0 §3.10): one UNSUBACK code per filter [MQTT-3.11.3-1]. */
import type { IUnsubackPacket, IUnsubscribePacket } from 'mqtt-packet';
import { ReasonCode } from '../../protocol/reason-codes.ts';
import type { HandlerContext } from './context.ts';
import { ProtocolViolation } from '../errors.ts';

export function handleUnsubscribe(ch: HandlerContext, p: IUnsubscribePacket): void {
  if (p.unsubscriptions.length === 0)
    throw new ProtocolViolation(ReasonCode.ProtocolError, 'empty UNSUBSCRIBE'); // [MQTT-3.10.3-2]
  const codes: number[] = [];
  for (const filter of p.unsubscriptions) {
    const removed = ch.engine.unsubscribe(ch.session!, filter);
    codes.push(removed ? ReasonCode.Success : ReasonCode.NoSubscriptionExisted);
  }
  const unsuback: IUnsubackPacket = { cmd: 'unsuback', messageId: p.messageId ?? 0, granted: codes };
  if (!ch.v5) unsuback.granted = [];
  ch.send(unsuback);
}
