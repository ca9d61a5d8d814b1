/**
 * Incremental MQTT framing in front of mqtt-packet (rumqttd's "need N more bytes" codec idea).
 * It cuts the byte stream into whole packets, refuses oversize packets before buffering them
 * [MQTT-3.1.2-24], and decodes the hot packet — PUBLISH without properties — itself, keeping the
 * frame bytes so the router can forward them without re-encoding. Every other packet (and any
 * PUBLISH with v5 properties) is handed, whole, to mqtt-packet's parser.
 */
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { FixedHeader, PacketType, packetTypeOf } from '../protocol/packet-types.ts';
import { ReasonCode } from '../protocol/reason-codes.ts';
import { MalformedPacket, ProtocolViolation } from './errors.ts';

export interface PacketSink {
  onPacket(packet: Packet): void;
  onError(err: Error): void;
}

/** A PUBLISH decoded by the fast path, carrying its wire bytes. */
export interface FramedPublish extends IPublishPacket {
  frame: Buffer;
  headerLen: number;
}

/** Acknowledgement packets by their exact first byte (fixed header flags included). */
const ACKS: Record<number, 'puback' | 'pubrec' | 'pubrel' | 'pubcomp' | undefined> = {
  [FixedHeader.Puback]: 'puback',
  [FixedHeader.Pubrec]: 'pubrec',
  [FixedHeader.Pubrel]: 'pubrel',
  [FixedHeader.Pubcomp]: 'pubcomp',
};
const PINGREQ: Packet = { cmd: 'pingreq', length: 0 } as Packet;

type CodecParser = mqttPacket.Parser & { settings: { protocolVersion?: number } };

/**
 * mqtt-packet parsers shared by every connection, one per protocol version. A parser is heavy (a
 * stream with its buffer list, listeners, a packet object: about 1.5 KiB), and most connections only
 * need it for CONNECT and SUBSCRIBE. Sharing is safe because frames reach it whole: `parse()`
 * emits the packet (or the error) synchronously and leaves nothing buffered. `sink` is who the
 * frame being parsed belongs to.
 */
interface SharedParser {
  parser: CodecParser;
  sink: PacketSink | undefined;
}
const shared: Array<SharedParser | undefined> = [];

function newParser(version: 3 | 4 | 5): SharedParser {
  const entry: SharedParser = {
    parser: mqttPacket.parser({ protocolVersion: version }) as CodecParser,
    sink: undefined,
  };
  entry.parser.on('packet', (p: Packet) => entry.sink?.onPacket(p));
  entry.parser.on('error', (err: Error) => entry.sink?.onError(err));
  return entry;
}

/** Decodes one whole frame with the general codec; the packet or error goes to `sink`. */
function parseFrame(version: 3 | 4 | 5, frame: Buffer, sink: PacketSink): void {
  let entry = shared[version];
  // a sink that parses again while handling its packet (never expected) gets a parser of its own
  const reentrant = entry?.sink !== undefined;
  if (entry === undefined || reentrant) entry = newParser(version);
  if (!reentrant) shared[version] = entry;
  entry.sink = sink;
  // parsing a CONNECT switches the parser to that CONNECT's version: switch it back
  entry.parser.settings.protocolVersion = version;
  let left: number;
  try {
    left = entry.parser.parse(frame);
  } finally {
    entry.sink = undefined;
  }
  // bytes left over would belong to the next caller: start that one with a clean parser
  if (left !== 0 && shared[version] === entry) shared[version] = undefined;
}

export class PacketReader {
  private chunks: Buffer[] | undefined;
  private buffered = 0;
  /** Bytes needed before the pending frame is complete (0 = unknown yet). */
  private need = 0;
  private version: 3 | 4 | 5 = 4;
  private failed = false;

  constructor(
    private readonly maxPacketSize: number,
    private readonly sink: PacketSink,
  ) {}

  setProtocolVersion(version: 3 | 4 | 5): void {
    this.version = version;
  }

  /** PacketSink for the shared parser: its errors end this reader like our own. */
  onPacket(packet: Packet): void {
    this.sink.onPacket(packet);
  }

  onError(err: Error): void {
    this.fail(err);
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    let buf: Buffer;
    if (this.buffered === 0) {
      buf = chunk;
    } else {
      const chunks = this.chunks!;
      chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.buffered < this.need) return;
      buf = Buffer.concat(chunks, this.buffered);
      this.chunks = undefined;
      this.buffered = 0;
    }
    this.need = 0;
    let pos = 0;
    const end = buf.length;
    while (pos < end && !this.failed) {
      // fixed header: type/flags byte, then 1–4 bytes of remaining length [MQTT-1.5.5]
      let len = 0;
      let mult = 1;
      let i = pos + 1;
      let complete = false;
      while (i < end) {
        const b = buf[i++]!;
        len += (b & 0x7f) * mult;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
        mult *= 128;
        if (mult > 2_097_152) {
          this.fail(new MalformedPacket('Invalid variable byte integer'));
          return;
        }
      }
      if (!complete) break;
      const total = i - pos + len;
      if (total > this.maxPacketSize) {
        this.fail(new ProtocolViolation(ReasonCode.PacketTooLarge, `packet of ${total} bytes`));
        return;
      }
      if (end - pos < total) {
        this.need = total;
        break;
      }
      const frame = buf.subarray(pos, pos + total);
      const headerLen = i - pos;
      pos += total;
      const first = frame[0]!;
      if (packetTypeOf(first) === PacketType.Publish) {
        this.publish(frame, headerLen, len);
      } else if (len === 2 && ACKS[first] !== undefined) {
        // PUBACK / PUBREC / PUBREL / PUBCOMP with success: just the packet id
        this.sink.onPacket({
          cmd: ACKS[first]!,
          messageId: (frame[2]! << 8) | frame[3]!,
          length: 2,
        } as Packet);
      } else if (first === FixedHeader.Pingreq && len === 0) {
        this.sink.onPacket(PINGREQ);
      } else {
        parseFrame(this.version, frame, this);
      }
    }
    if (pos < end && !this.failed) {
      // an idle connection holds no buffer list: one is made only for a frame split across reads
      const rest = buf.subarray(pos);
      this.chunks = [rest];
      this.buffered = rest.length;
    }
  }

  private publish(frame: Buffer, headerLen: number, len: number): void {
    const flags = frame[0]! & 0x0f;
    const qos = (flags >> 1) & 3;
    if (qos === 3) {
      this.fail(new MalformedPacket('Packet must not have both QoS bits set to 1')); // [MQTT-3.3.1-4]
      return;
    }
    let p = headerLen;
    if (frame.length - p < 2) return this.fail(new MalformedPacket('Cannot parse topic'));
    const topicLen = (frame[p]! << 8) | frame[p + 1]!;
    p += 2;
    if (frame.length - p < topicLen) return this.fail(new MalformedPacket('Cannot parse topic'));
    const topic = frame.toString('utf8', p, p + topicLen);
    p += topicLen;
    let messageId: number | undefined;
    if (qos > 0) {
      if (frame.length - p < 2) return this.fail(new MalformedPacket('Cannot parse messageId'));
      messageId = (frame[p]! << 8) | frame[p + 1]!;
      p += 2;
    }
    if (this.version === 5) {
      if (p >= frame.length) return this.fail(new MalformedPacket('Cannot parse properties'));
      if (frame[p] !== 0) {
        // properties present: let the full codec decode them
        parseFrame(this.version, frame, this);
        return;
      }
      p += 1;
    }
    const packet: FramedPublish = {
      cmd: 'publish',
      topic,
      payload: frame.subarray(p),
      qos: qos as 0 | 1 | 2,
      dup: (flags & 0x08) !== 0,
      retain: (flags & 0x01) !== 0,
      messageId,
      length: len,
      frame,
      headerLen,
    };
    this.sink.onPacket(packet);
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.chunks = undefined;
    this.buffered = 0;
    this.sink.onError(err);
  }
}
