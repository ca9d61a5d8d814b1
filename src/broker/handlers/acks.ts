/** PUBACK, PUBREC, PUBREL, PUBCOMP (MQTT 5.0 §3.4–3.7): the two QoS flows. */
import type { IPubackPacket, IPubcompPacket, IPubrecPacket, IPubrelPacket } from 'mqtt-packet';
import { FixedHeader } from '../../protocol/packet-types.ts';
import { ReasonCode } from '../../protocol/reason-codes.ts';
import type { HandlerContext } from './context.ts';
import { sendAck } from './publish.ts';

/** QoS 1 outgoing finished [MQTT-4.3.2-3]. An unknown id is ignored (it may be a late duplicate). */
export function handlePuback(ch: HandlerContext, p: IPubackPacket): void {
  const session = ch.session!;
  const done = session.complete(p.messageId ?? 0, 'sent');
  if (done !== undefined) ch.engine.outgoingFinished(session, done);
}

/** QoS 2 outgoing, step 2: reply PUBREL [MQTT-4.3.3-4]; v5 failure codes end the flow. */
export function handlePubrec(ch: HandlerContext, p: IPubrecPacket): void {
  const session = ch.session!;
  const id = p.messageId ?? 0;
  const failed = (p.reasonCode ?? 0) >= 0x80;
  const entry = session.received(id, failed);
  if (entry === undefined) {
    // unknown id: v5 answers PUBREL 0x92 so the client can finish (MQTT 5 §3.6.2.1)
    if (!failed) sendAck(ch, FixedHeader.Pubrel, id, ReasonCode.PacketIdentifierNotFound);
    return;
  }
  if (failed) ch.engine.outgoingFinished(session, entry);
  else ch.engine.outgoingChanged(session, entry);
}

/** QoS 2 incoming, step 3: release the id and reply PUBCOMP [MQTT-4.3.3-11]. */
export function handlePubrel(ch: HandlerContext, p: IPubrelPacket): void {
  const session = ch.session!;
  const id = p.messageId ?? 0;
  const known = session.releaseIncomingQoS2(id);
  if (known) ch.engine.persistIncomingQoS2(session, id, false);
  sendAck(ch, FixedHeader.Pubcomp, id, known ? ReasonCode.Success : ReasonCode.PacketIdentifierNotFound);
}

/** QoS 2 outgoing finished. */
export function handlePubcomp(ch: HandlerContext, p: IPubcompPacket): void {
  const session = ch.session!;
  const done = session.complete(p.messageId ?? 0, 'pubrel');
  if (done !== undefined) ch.engine.outgoingFinished(session, done);
}
