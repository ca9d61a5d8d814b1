/**
 * PUBLISH from a client (MQTT 5.0 §3.3): topic alias resolution, validation, authorisation,
 * routing, then PUBACK / PUBREC. If the store answers asynchronously (a durable store), the
 * acknowledgement waits for it: an acknowledged QoS 1/2 message is never lost.
 */
import { isUtf8 } from 'node:buffer';
import type { IPublishPacket } from 'mqtt-packet';
import { FixedHeader } from '../../protocol/packet-types.ts';
import { ReasonCode } from '../../protocol/reason-codes.ts';
import { isValidTopicName } from '../../protocol/topic.ts';
import type { HandlerContext } from './context.ts';
import { ConnectionState } from '../types.ts';
import { ackBytes, seedEncoding } from '../encode.ts';
import type { FramedPublish } from '../packet-reader.ts';
import {
  isExpectedRefusal,
  LocalDeliveryRefused,
  MalformedPacket,
  ProtocolViolation,
  QuotaExceeded,
} from '../errors.ts';
import { errorText } from '../../log/rate-limited.ts';
import type { Message, PublishProperties, QoS } from '../types.ts';

export function handlePublish(ch: HandlerContext, p: IPublishPacket): void {
  const engine = ch.engine;
  const o = engine.options;
  engine.stats.messagesReceived++;
  engine.stats.publishReceived++;
  let topic = p.topic;
  let properties: PublishProperties | undefined;
  let expiresAt = 0;
  const qos = p.qos;
  if (ch.v5 && p.properties !== undefined) {
    const props = p.properties;
    if (props.subscriptionIdentifier !== undefined) {
      // [MQTT-3.3.4-6] a client must not send a subscription identifier
      throw new ProtocolViolation(ReasonCode.ProtocolError, 'subscription identifier in PUBLISH');
    }
    if (props.topicAlias !== undefined) {
      topic = resolveAlias(ch, topic, props.topicAlias);
      const { topicAlias: _a, ...rest } = props;
      properties = Object.keys(rest).length > 0 ? rest : undefined;
    } else {
      properties = props;
    }
    if (props.messageExpiryInterval !== undefined) {
      expiresAt = engine.clock.now() + props.messageExpiryInterval * 1000;
    }
  }
  // [MQTT-3.3.2-2] no wildcards in a topic name; [MQTT-4.7.3-1] not empty
  if (!isValidTopicName(topic)) {
    throw new ProtocolViolation(
      ch.v5 ? ReasonCode.TopicNameInvalid : ReasonCode.MalformedPacket,
      'invalid topic name',
    );
  }
  // the codec decodes invalid UTF-8 to U+FFFD [MQTT-1.5.4-1]
  if (topic.includes('\uFFFD')) throw new MalformedPacket('topic is not valid UTF-8');
  if (qos > o.maximumQoS) throw new ProtocolViolation(ReasonCode.QoSNotSupported, 'QoS not supported'); // [MQTT-3.2.2-11]
  if (p.retain && !o.retainAvailable) throw new ProtocolViolation(ReasonCode.RetainNotSupported, 'retain'); // [MQTT-3.2.2-14]

  const id = p.messageId ?? 0;
  const session = ch.session!;
  if (qos === 2) {
    if (session.incomingQoS2.has(id)) {
      // [MQTT-4.3.3-9] a resent QoS 2 PUBLISH is acknowledged but not delivered again
      sendAck(ch, FixedHeader.Pubrec, id, ReasonCode.Success);
      return;
    }
    // [MQTT-3.3.4-9] more unacknowledged QoS 2 messages than our Receive Maximum: 0x93
    if (ch.v5 && session.incomingQoS2.size + ch.pendingAcks >= o.receiveMaximum) {
      throw new ProtocolViolation(ReasonCode.ReceiveMaximumExceeded, 'receive maximum exceeded');
    }
  } else if (qos === 1 && ch.v5 && ch.pendingAcks >= o.receiveMaximum) {
    throw new ProtocolViolation(ReasonCode.ReceiveMaximumExceeded, 'receive maximum exceeded');
  }

  const hook = engine.hooks.authorizePublish;
  if (hook !== undefined && !hook(ch.info, topic, qos, p.retain)) {
    refuse(ch, qos, id, ReasonCode.NotAuthorized);
    return;
  }
  if (properties?.payloadFormatIndicator === true && !isUtf8(p.payload as Buffer)) {
    refuse(ch, qos, id, ReasonCode.PayloadFormatInvalid); // [MQTT-3.3.2-4] may refuse
    return;
  }

  const message: Message = {
    topic,
    payload: typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload,
    qos: qos as QoS,
    retain: p.retain,
    properties,
    expiresAt,
    origin: ch.clientId,
    publisher: ch.info,
  };
  const framed = p as Partial<FramedPublish>;
  if (framed.frame !== undefined && !p.dup) seedEncoding(message, ch.v5, framed.frame, framed.headerLen!);
  // [MQTT-4.3.3-9] a QoS 2 packet id is saved with what its message routes (one commit in a durable
  // store), so a crash before PUBREC reaches the client cannot turn its resend into a second delivery
  const idSaved = qos === 2 ? engine.persistIncomingQoS2(session, id, true) : undefined;
  const routed = engine.route(message, ch);
  let saving =
    idSaved === undefined ? routed : routed === undefined ? idSaved : Promise.all([idSaved, routed]);
  if (qos > 0 && ch.v5 && engine.quotaRefused) {
    // nobody took it (every matching session full): say so, the publisher may send it again later.
    // 3.1.1 has no negative acknowledgement: acknowledged and dropped, as Mosquitto does.
    if (saving === undefined && ch.ackTail === undefined) {
      if (qos === 2) engine.persistIncomingQoS2(session, id, false); // not received: a resend is new
      ch.ack(ackHeaderOf(qos), id, ReasonCode.QuotaExceeded);
      return;
    }
    saving = saving === undefined ? quotaRefusal() : saving.then(quotaRefusal);
  }
  if (qos === 0) {
    saving?.then(undefined, (err: unknown) => engine.logger.error({ err }, 'QoS 0 message not saved'));
    return;
  }
  // the fast path: nothing to wait for, nothing waiting before it
  if (saving === undefined && ch.ackTail === undefined) {
    acknowledge(ch, qos, id);
    return;
  }
  ch.pendingAcks++;
  // settled, never rejecting: an early failure must not surface as an unhandled rejection while
  // it waits for the acks before it
  const outcome =
    saving === undefined ? undefined : saving.then(NO_ERROR, (err: unknown) => err ?? new Error('refused'));
  const before = ch.ackTail;
  const tail: Promise<void> = (before === undefined ? outcome! : before.then(() => outcome)).then((err) => {
    if (ch.ackTail === tail) ch.ackTail = undefined;
    ch.pendingAcks--;
    // Routed: the id counts as received even if the client has gone, so its resend is not routed again.
    if (qos === 2 && err === undefined) session.addIncomingQoS2(id);
    if (qos === 2 && err !== undefined) engine.persistIncomingQoS2(session, id, false);
    if (ch.state !== ConnectionState.Connected) return; // gone: the client resends on its next connection
    if (err === undefined) acknowledge(ch, qos, id);
    else notAccepted(ch, qos, id, err);
  });
  ch.ackTail = tail;
}

const NO_ERROR = (): undefined => undefined;

/** The message is routed (and, for QoS 2, its id is saved: see handlePublish). */
function acknowledge(ch: HandlerContext, qos: QoS, id: number): void {
  if (qos === 1) {
    ch.ack(FixedHeader.Puback, id);
  } else {
    ch.session!.addIncomingQoS2(id);
    ch.ack(FixedHeader.Pubrec, id);
  }
}

/**
 * The message was not taken: a local handler refused it or the store failed. The client must keep
 * it. A v5 client is told in the PUBACK/PUBREC (0x80 ends this QoS flow [MQTT-4.4.0-2]; the client
 * sends the message again as a new PUBLISH); a refused QoS 2 id is not remembered, so it is not a
 * duplicate. 3.1.1 has no negative acknowledgement: the connection is closed and the unacknowledged
 * PUBLISH is resent on reconnect [MQTT-4.4.0-1]. A store failure closes the connection in both
 * versions: routing may have half happened and only a resend after reconnect is safe.
 */
function notAccepted(ch: HandlerContext, qos: QoS, id: number, err: unknown): void {
  const header = ackHeaderOf(qos);
  if (err instanceof QuotaExceeded) {
    ch.ack(header, id, ReasonCode.QuotaExceeded); // the drops were logged where they happened
    return;
  }
  const refused = err instanceof LocalDeliveryRefused;
  if (refused && isExpectedRefusal(err.cause)) {
    // a deliberate refusal (e.g. a forged gateway uplink) is counted and logged by the local subscriber
    ch.engine.logger.debug({ clientId: ch.clientId, packetId: id }, 'message refused');
  } else if (refused) {
    // expected (the platform refused what it was given): one line per interval, no stack
    ch.engine.log.log(
      'warn',
      'local-refused',
      { clientId: ch.clientId, packetId: id, error: errorText(err) },
      'message not acknowledged: refused by a local subscriber',
    );
  } else {
    ch.engine.logger.error({ err, clientId: ch.clientId, packetId: id }, 'message not acknowledged');
  }
  if (refused && ch.v5) ch.ack(header, id, ReasonCode.UnspecifiedError);
  else ch.disconnect(ReasonCode.UnspecifiedError);
}

function quotaRefusal(): Promise<never> {
  return Promise.reject(new QuotaExceeded('no matching session could take the message'));
}

/** Refused message: v5 says why in the ack; 3.1.1 acknowledges and drops (no reason codes). */
function refuse(ch: HandlerContext, qos: QoS, id: number, reason: number): void {
  if (qos === 0) return;
  sendAck(ch, ackHeaderOf(qos), id, ch.v5 ? reason : ReasonCode.Success);
}

/** The first acknowledgement of an incoming QoS 1 (PUBACK) or QoS 2 (PUBREC) PUBLISH. */
function ackHeaderOf(qos: QoS): FixedHeader {
  return qos === 1 ? FixedHeader.Puback : FixedHeader.Pubrec;
}

/** PUBACK/PUBREC/PUBREL/PUBCOMP written at once (no flow control); 3.1.1 has no reason code. */
export function sendAck(ch: HandlerContext, header: FixedHeader, id: number, reason: number): void {
  ch.write(ackBytes(header, id, ch.v5 ? reason : ReasonCode.Success));
}

/** Topic aliases from the client [MQTT-3.3.2-8..12]. */
function resolveAlias(ch: HandlerContext, topic: string, alias: number): string {
  if (alias === 0 || alias > ch.engine.options.topicAliasMaximum) {
    throw new ProtocolViolation(ReasonCode.TopicAliasInvalid, `topic alias ${alias}`);
  }
  if (topic.length > 0) {
    ch.inAliases.set(alias, topic);
    return topic;
  }
  const known = ch.inAliases.get(alias);
  if (known === undefined)
    throw new ProtocolViolation(ReasonCode.ProtocolError, `unknown topic alias ${alias}`);
  return known;
}
