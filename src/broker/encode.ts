/**
 * Outgoing PUBLISH encoding. A routed message is encoded once per shape (v5 or not, QoS, retain
 * flag) and the bytes are reused for every subscriber with that shape; for QoS 1/2 only
 * the two packet-id bytes differ, so a copy is patched. Deliveries that need per-subscriber
 * properties (subscription ids, topic alias, remaining expiry) are encoded individually.
 */
import mqttPacket, { type IPublishPacket } from 'mqtt-packet';
import type { FixedHeader } from '../protocol/packet-types.ts';
import { ReasonCode } from '../protocol/reason-codes.ts';
import type { Message, PublishProperties, QoS } from './types.ts';

// mqtt-packet writes packet ids and lengths from a table of 65,536 two-byte Buffers made at its first
// generate(): 6 MB of heap for a few bytes per CONNACK/SUBACK. PUBLISHes are encoded here without it.
mqttPacket.writeToStream.cacheNumbers = false;

const V5 = { protocolVersion: 5 } as const;
const V4 = { protocolVersion: 4 } as const;

interface EncodedShape {
  bytes: Buffer;
  /** Offset of the packet id (QoS > 0 shapes). */
  idOffset: number;
}

/** Cache slot of a delivery shape. */
export function shapeIndex(v5: boolean, qos: QoS, retain: boolean): number {
  return (v5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0);
}

/** Offers the received wire bytes as the encoding of their own shape (forwarding without re-encoding). */
export function seedEncoding(message: Message, v5: boolean, frame: Buffer, headerLen: number): void {
  const topicLen = (frame[headerLen]! << 8) | frame[headerLen + 1]!;
  const cache: (EncodedShape | undefined)[] = (message.encoded = []);
  cache[shapeIndex(v5, message.qos, message.retain)] = { bytes: frame, idOffset: headerLen + 2 + topicLen };
}

export interface PublishExtras {
  subscriptionIds: number[];
  topicAlias: number; // 0 = none
  /** Send the topic as '' (alias already known by the client). */
  omitTopic: boolean;
}

/** Encodes a PUBLISH for one delivery. `extras` undefined = the cacheable common shape. */
export function encodePublish(
  message: Message,
  v5: boolean,
  qos: QoS,
  retain: boolean,
  packetId: number,
  dup: boolean,
  now: number,
  extras: PublishExtras | undefined,
): Buffer {
  if (extras === undefined && !dup && (message.expiresAt === 0 || !v5)) {
    const index = shapeIndex(v5, qos, retain);
    const cache = (message.encoded ??= []);
    let shape = cache[index];
    if (shape === undefined) {
      const bytes = generate(message, v5, qos, retain, qos > 0 ? 1 : 0, false, message.properties);
      shape = { bytes, idOffset: qos > 0 ? packetIdOffset(bytes) : 0 };
      cache[index] = shape;
    }
    if (qos === 0) return shape.bytes;
    const out = Buffer.allocUnsafe(shape.bytes.length);
    shape.bytes.copy(out);
    out[shape.idOffset] = packetId >> 8;
    out[shape.idOffset + 1] = packetId & 0xff;
    return out;
  }
  let props:
    (PublishProperties & { subscriptionIdentifier?: number | number[]; topicAlias?: number }) | undefined =
    message.properties;
  if (v5) {
    props = props === undefined ? {} : { ...props };
    if (message.expiresAt !== 0) {
      // [MQTT-3.3.2-6] the receiver gets the remaining lifetime
      props.messageExpiryInterval = Math.max(0, Math.ceil((message.expiresAt - now) / 1000));
    }
    if (extras !== undefined) {
      if (extras.subscriptionIds.length === 1) props.subscriptionIdentifier = extras.subscriptionIds[0]!;
      else if (extras.subscriptionIds.length > 1) props.subscriptionIdentifier = extras.subscriptionIds;
      if (extras.topicAlias !== 0) props.topicAlias = extras.topicAlias;
    }
    if (Object.keys(props).length === 0) props = undefined;
  }
  const topic = extras?.omitTopic ? '' : message.topic;
  return generate({ ...message, topic }, v5, qos, retain, packetId, dup, v5 ? props : undefined);
}

function generate(
  message: Message,
  v5: boolean,
  qos: QoS,
  retain: boolean,
  packetId: number,
  dup: boolean,
  properties: IPublishPacket['properties'] | undefined,
): Buffer {
  const packet: IPublishPacket = {
    cmd: 'publish',
    topic: message.topic,
    payload: message.payload,
    qos,
    retain,
    dup,
  };
  if (qos > 0) packet.messageId = packetId;
  if (properties !== undefined) packet.properties = properties;
  return mqttPacket.generate(packet, v5 ? V5 : V4);
}

/** Fixed header (1 byte + remaining-length varint), then topic length + topic: the id follows. */
function packetIdOffset(bytes: Buffer): number {
  let i = 1;
  while ((bytes[i]! & 0x80) !== 0) i++;
  i++;
  const topicLen = (bytes[i]! << 8) | bytes[i + 1]!;
  return i + 2 + topicLen;
}

/**
 * PUBACK, PUBREC, PUBREL or PUBCOMP: 4 bytes on success (the reason code is omitted
 * [MQTT-3.4.2-1]), 5 with a v5 reason code.
 */
export function ackBytes(header: FixedHeader, id: number, reason: number): Buffer {
  return reason === ReasonCode.Success
    ? Buffer.from([header, 2, id >> 8, id & 0xff])
    : Buffer.from([header, 3, id >> 8, id & 0xff, reason]);
}
