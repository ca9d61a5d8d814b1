/**
 * Zero-copy MQTT framing for the hot path. mqtt-packet parses the rare packets (CONNECT, SUBSCRIBE,
 * CONNACK ...); PUBLISH and its acknowledgements are forwarded as the bytes that arrived, with only
 * the two packet-identifier bytes rewritten in place. That is what keeps the module light: no
 * per-message object, no re-encoding.
 */

import { PacketType } from '../protocol/packet-types.ts';
export { PacketType };

export class MalformedFrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedFrameError';
  }
}

/** Largest frame accepted from either side (MQTT's own limit is 256 MB; an edge box wants less). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/**
 * Splits a byte stream into whole MQTT frames. A frame that lies inside one chunk is handed out as a
 * subarray of that chunk (no copy); only frames split across chunks are copied once.
 */
export class FrameSplitter {
  private pending: Buffer | undefined;

  constructor(private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  /**
   * Hands out the whole frames of `chunk` (after any bytes kept from before). When `onFrame`
   * returns false the reader wants to pause: the rest is kept and `resume()` continues with it.
   */
  push(chunk: Buffer, onFrame: (frame: Buffer) => boolean | void): void {
    let buf = chunk;
    if (this.pending) {
      buf = chunk.length === 0 ? this.pending : Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let offset = 0;
    while (offset < buf.length) {
      const size = frameSize(buf, offset, this.maxFrameBytes);
      if (size === 0 || offset + size > buf.length) break;
      const wantsMore = onFrame(buf.subarray(offset, offset + size));
      offset += size;
      if (wantsMore === false) break;
    }
    if (offset < buf.length) this.pending = Buffer.from(buf.subarray(offset));
  }

  /** Continues with the bytes kept when the reader paused. */
  resume(onFrame: (frame: Buffer) => boolean | void): void {
    if (this.pending) this.push(Buffer.alloc(0), onFrame);
  }

  reset(): void {
    this.pending = undefined;
  }
}

/** Total size of the frame starting at `offset`, or 0 when its header is not complete yet. */
export function frameSize(buf: Buffer, offset: number, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): number {
  let multiplier = 1;
  let length = 0;
  for (let i = 1; i <= 4; i++) {
    if (offset + i >= buf.length) return 0;
    const byte = buf[offset + i]!;
    length += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) {
      if (length + 1 + i > maxFrameBytes) throw new MalformedFrameError(`frame of ${length} bytes too large`);
      return 1 + i + length;
    }
    multiplier *= 128;
  }
  throw new MalformedFrameError('remaining length longer than 4 bytes'); // [MQTT-1.5.5-1]
}

export function frameType(frame: Buffer): number {
  return frame[0]! >> 4;
}

/** Bytes taken by the fixed header (type byte + remaining-length varint). */
export function fixedHeaderLength(frame: Buffer): number {
  let i = 1;
  while (i < 5 && (frame[i]! & 0x80) !== 0) i++;
  return i + 1;
}

export function publishQos(frame: Buffer): 0 | 1 | 2 {
  return ((frame[0]! >> 1) & 0x03) as 0 | 1 | 2;
}

/** Offset of the packet identifier in a QoS 1/2 PUBLISH (after the topic name) [MQTT-3.3.2-1]. */
export function publishPacketIdOffset(frame: Buffer): number {
  const h = fixedHeaderLength(frame);
  return h + 2 + frame.readUInt16BE(h);
}

/** Offset of the packet identifier in PUBACK/PUBREC/PUBREL/PUBCOMP/SUBACK/UNSUBACK. */
export function ackPacketIdOffset(frame: Buffer): number {
  return fixedHeaderLength(frame);
}

export function readPacketId(frame: Buffer, offset: number): number {
  return (frame[offset]! << 8) | frame[offset + 1]!;
}

export function writePacketId(frame: Buffer, offset: number, id: number): void {
  frame[offset] = id >> 8;
  frame[offset + 1] = id & 0xff;
}

/** Sets the DUP flag of a PUBLISH being sent again on the same link [MQTT-3.3.1-1]. */
export function setDup(frame: Buffer, dup: boolean): void {
  frame[0] = dup ? frame[0]! | 0x08 : frame[0]! & ~0x08;
}

/** Reason code of a v5 acknowledgement (PUBACK ...), Success when the short form is used. */
export function ackReasonCode(frame: Buffer): number {
  const h = fixedHeaderLength(frame);
  return frame.length > h + 2 ? frame[h + 2]! : 0;
}

/** PUBACK/PUBREC/PUBREL/PUBCOMP in the short form that MQTT 3.1.1 and 5.0 both accept. */
export function encodeAck(type: number, packetId: number): Buffer {
  const flags = type === PacketType.Pubrel ? 0x02 : 0; // [MQTT-3.6.1-1]
  return Buffer.from([(type << 4) | flags, 2, packetId >> 8, packetId & 0xff]);
}

export const PINGREQ_FRAME: Buffer = Buffer.from([PacketType.Pingreq << 4, 0]);
export const PINGRESP_FRAME: Buffer = Buffer.from([PacketType.Pingresp << 4, 0]);

function varintAt(frame: Buffer, offset: number): { value: number; bytes: number } {
  let value = 0;
  let multiplier = 1;
  let i = 0;
  for (; i < 4; i++) {
    const byte = frame[offset + i]!;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) break;
    multiplier *= 128;
  }
  return { value, bytes: i + 1 };
}

/**
 * A 52-bit fingerprint of a PUBLISH's topic and payload (two FNV-1a variants), ignoring packet id,
 * flags and properties, which differ between the copies two brokers deliver of the same message.
 */
export function publishFingerprint(frame: Buffer, v5: boolean): number {
  const h = fixedHeaderLength(frame);
  const topicLength = frame.readUInt16BE(h);
  const topicStart = h + 2;
  const topicEnd = topicStart + topicLength;
  let payloadStart = topicEnd + (publishQos(frame) > 0 ? 2 : 0);
  if (v5) {
    const props = varintAt(frame, payloadStart);
    payloadStart += props.bytes + props.value;
  }
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = topicStart; i < topicEnd; i++) {
    a = Math.imul(a ^ frame[i]!, 0x01000193);
    b = Math.imul(b ^ frame[i]!, 0x5bd1e995);
  }
  a = Math.imul(a ^ 0xff, 0x01000193); // separator: "a/b"+"c" differs from "a/"+"bc"
  for (let i = payloadStart; i < frame.length; i++) {
    a = Math.imul(a ^ frame[i]!, 0x01000193);
    b = Math.imul(b ^ frame[i]!, 0x5bd1e995);
  }
  b ^= frame.length - payloadStart;
  return (a >>> 0) * 0x100000 + ((b >>> 0) & 0xfffff);
}

/** Length of an MQTT 5 PUBLISH's property block (0 for the common case without properties). */
export function publishPropertiesLength(frame: Buffer): number {
  const h = fixedHeaderLength(frame);
  const offset = h + 2 + frame.readUInt16BE(h) + (publishQos(frame) > 0 ? 2 : 0);
  return varintAt(frame, offset).value;
}

/** Topic of a PUBLISH frame (only decoded where needed: local `$SYS` handling, logs). */
export function publishTopic(frame: Buffer): string {
  const h = fixedHeaderLength(frame);
  return frame.toString('utf8', h + 2, h + 2 + frame.readUInt16BE(h));
}
