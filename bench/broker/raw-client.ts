// A deliberately small MQTT 3.1.1 client for load generation: PUBLISH packets are built from a
// template into one buffer per batch, incoming bytes are framed by hand (no packet objects), and
// acknowledgements for a whole chunk go out in one write. The point is that the generator costs
// far less CPU than the broker it measures.
import { connect as netConnect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';

const CONNACK = 2;
const PUBLISH = 3;
const PUBACK = 4;
const PUBREC = 5;
const PUBREL = 6;
const PUBCOMP = 7;
const SUBACK = 9;

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface ReceivedHandler {
  /** Called for every PUBLISH with the timestamp the publisher wrote into the payload. */
  (sentAtMs: number): void;
}

export class RawClient {
  readonly socket: Socket;
  #pending: Buffer | undefined;
  #onConnack: (() => void) | undefined;
  #onSuback: (() => void) | undefined;
  /** Our QoS 1/2 publishes still waiting for PUBACK / PUBCOMP. */
  inflight = 0;
  onReceived: ReceivedHandler | undefined;
  onAck: (() => void) | undefined;
  #nextId = 1;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {});
  }

  static async connect(
    port: number,
    clientId: string,
    keepalive = 60,
    protocolVersion: 4 | 5 = 4,
    /**
     * clean: false keeps the session when the client goes (a persistent session); localAddress: the
     * loopback source address (127.0.0.x), so that more clients than one address's ephemeral ports can connect.
     */
    options: { clean?: boolean; localAddress?: string } = {},
  ): Promise<RawClient> {
    const socket = netConnect({ host: '127.0.0.1', port, localAddress: options.localAddress });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new RawClient(socket);
    // a broker out of file descriptors accepts and closes at once: fail rather than wait for ever
    const connacked = new Promise<void>((resolve, reject) => {
      client.#onConnack = resolve;
      socket.once('close', () => reject(new Error('connection closed before CONNACK')));
    });
    socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion,
        clean: options.clean ?? true,
        clientId,
        // a v5 session outlives its connection only with an expiry; 3.1.1 uses clean: false alone
        ...(protocolVersion === 5 && options.clean === false
          ? { properties: { sessionExpiryInterval: 0xffffffff } }
          : {}),
        keepalive,
      }),
    );
    await connacked;
    return client;
  }

  async subscribe(filter: string, qos: 0 | 1 | 2, protocolVersion: 4 | 5 = 4): Promise<void> {
    const subacked = new Promise<void>((resolve, reject) => {
      this.#onSuback = resolve;
      this.socket.once('close', () => reject(new Error('connection closed before SUBACK')));
    });
    this.socket.write(
      mqttPacket.generate(
        { cmd: 'subscribe', messageId: this.#id(), subscriptions: [{ topic: filter, qos }] },
        { protocolVersion },
      ),
    );
    await subacked;
  }

  #id(): number {
    const id = this.#nextId;
    this.#nextId = id === 65535 ? 1 : id + 1;
    return id;
  }

  /**
   * Writes `count` PUBLISH packets in one buffer. Returns false when the socket asks us to wait
   * for 'drain' (TCP backpressure).
   */
  publishBatch(template: PublishTemplate, count: number): boolean {
    const buf = Buffer.allocUnsafe(template.size * count);
    const ts = nowMs();
    for (let i = 0; i < count; i++) {
      const at = i * template.size;
      template.bytes.copy(buf, at);
      if (template.qos > 0) buf.writeUInt16BE(this.#id(), at + template.idOffset);
      buf.writeDoubleLE(ts, at + template.payloadOffset);
    }
    if (template.qos > 0) this.inflight += count;
    return this.socket.write(buf);
  }

  end(): void {
    this.socket.end(Buffer.from([0xe0, 0]));
    this.socket.destroySoon();
  }

  #onData(chunk: Buffer): void {
    const buf = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#pending = undefined;
    let offset = 0;
    let replies: number[] | undefined;
    while (offset < buf.length) {
      // fixed header: type/flags byte, then the remaining length (1-4 bytes)
      let length = 0;
      let multiplier = 1;
      let pos = offset + 1;
      let complete = false;
      while (pos < buf.length) {
        const digit = buf[pos++];
        length += (digit & 127) * multiplier;
        multiplier *= 128;
        if ((digit & 128) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || pos + length > buf.length) break;
      const first = buf[offset];
      const type = first >> 4;
      if (type === PUBLISH) {
        const qos = (first >> 1) & 3;
        const topicLength = buf.readUInt16BE(pos);
        let payloadAt = pos + 2 + topicLength;
        if (qos > 0) {
          const id = buf.readUInt16BE(payloadAt);
          payloadAt += 2;
          (replies ??= []).push(qos === 1 ? 0x40 : 0x50, 2, id >> 8, id & 255);
        }
        if (this.onReceived && pos + length - payloadAt >= 8) this.onReceived(buf.readDoubleLE(payloadAt));
      } else if (type === PUBACK || type === PUBCOMP) {
        this.inflight--;
        this.onAck?.();
      } else if (type === PUBREC) {
        (replies ??= []).push(0x62, 2, buf[pos], buf[pos + 1]);
      } else if (type === PUBREL) {
        (replies ??= []).push(0x70, 2, buf[pos], buf[pos + 1]);
      } else if (type === CONNACK) {
        this.#onConnack?.();
      } else if (type === SUBACK) {
        this.#onSuback?.();
      }
      offset = pos + length;
    }
    if (offset < buf.length) this.#pending = Buffer.from(buf.subarray(offset));
    if (replies) this.socket.write(Buffer.from(replies));
  }
}

export interface PublishTemplate {
  bytes: Buffer;
  size: number;
  qos: 0 | 1 | 2;
  idOffset: number;
  payloadOffset: number;
}

/** A PUBLISH packet with a placeholder packet id and an 8-byte timestamp at the payload start. */
export function publishTemplate(topic: string, qos: 0 | 1 | 2, payloadSize: number): PublishTemplate {
  const size = Math.max(8, payloadSize);
  const bytes = mqttPacket.generate({
    cmd: 'publish',
    topic,
    qos,
    messageId: qos > 0 ? 1 : undefined,
    payload: Buffer.alloc(size, 0x61),
    retain: false,
    dup: false,
  });
  const payloadOffset = bytes.length - size;
  return { bytes, size: bytes.length, qos, idOffset: payloadOffset - 2, payloadOffset };
}
