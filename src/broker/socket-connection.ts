/**
 * SocketConnection: the socket edge of one MQTT connection. Bytes in → PacketReader → Channel;
 * Channel writes → socket, corked once per tick so a burst of packets leaves in one writev.
 * Reading pauses while the client does not read what we send (it would otherwise grow our buffer).
 */
import type { Packet } from 'mqtt-packet';
import type { Duplex } from 'node:stream';
import { ReasonCode } from '../protocol/reason-codes.ts';
import { unrefTimer } from '../protocol/clock.ts';
import { Channel, type ChannelEngine, type ChannelOutput } from './channel.ts';
import { fromCodecError, ProtocolViolation } from './errors.ts';
import { PacketReader } from './packet-reader.ts';
import { ConnectionState, type ConnectionMeta } from './types.ts';

/** Where a stream's listeners find their connection: one slot on the stream, no closure per connection. */
const CONNECTION = Symbol('mqiot.connection');
type TaggedStream = Duplex & { [CONNECTION]: SocketConnection };

// Listeners shared by every connection; the stream emits with itself as `this`. Closures per
// connection would cost several hundred bytes each (tsx names every function it compiles, which
// turns the function's own properties into a dictionary).
function onStreamData(this: TaggedStream, buf: Buffer): void {
  this[CONNECTION].onData(buf);
}
function onStreamDrain(this: TaggedStream): void {
  this[CONNECTION].onDrain();
}
function onStreamError(this: TaggedStream, err: Error): void {
  this[CONNECTION].onSocketError(err);
}
function onStreamEnd(this: TaggedStream): void {
  this[CONNECTION].channel.handleTransportClosed();
}
function onStreamClose(this: TaggedStream): void {
  this[CONNECTION].onClose();
}
function uncorkLater(conn: SocketConnection): void {
  conn.uncork();
}

export class SocketConnection implements ChannelOutput {
  readonly channel: Channel;
  private readonly reader: PacketReader;
  private corked = false;
  private failed = false;
  private ended = false;
  /** Paused because the client does not read what we send. */
  private paused = false;
  /** Paused because a subscriber this client publishes to is congested. */
  private held = false;
  private connectTimer: unknown;

  constructor(
    private readonly engine: ChannelEngine,
    private readonly stream: Duplex,
    meta: ConnectionMeta,
  ) {
    this.reader = new PacketReader(engine.options.maximumPacketSize, this);
    this.channel = new Channel(engine, this, meta);
    (stream as TaggedStream)[CONNECTION] = this;
    stream.on('data', onStreamData);
    stream.on('error', onStreamError);
    stream.on('close', onStreamClose);
    stream.on('end', onStreamEnd);
    stream.on('drain', onStreamDrain);
    // a connection that never sends CONNECT is closed (it must be the first packet, [MQTT-3.1.0-1])
    this.connectTimer = engine.clock.setTimeout(() => {
      this.connectTimer = undefined;
      if (
        this.channel.state === ConnectionState.New ||
        this.channel.state === ConnectionState.Authenticating
      ) {
        this.channel.fail(new ProtocolViolation(ReasonCode.MaximumConnectTime, 'no CONNECT in time'));
      }
    }, engine.options.connectTimeout);
    unrefTimer(this.connectTimer);
  }

  /** onData touches the channel (ChannelOutput); a getter, not a field in every connection. */
  get marksActivity(): boolean {
    return true;
  }

  // ---- PacketSink ----

  onPacket(packet: Packet): void {
    this.channel.handlePacket(packet);
    // connected (or closed): the connect timeout is done; an idle client should not hold a timer
    if (this.connectTimer !== undefined && this.channel.state !== ConnectionState.New) {
      if (this.channel.state !== ConnectionState.Authenticating) this.clearConnectTimer();
    }
  }

  onError(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.channel.fail(fromCodecError(err));
  }

  onData(buf: Buffer): void {
    this.engine.stats.bytesReceived += buf.length;
    if (this.failed || this.ended) return;
    this.channel.touch();
    this.reader.push(buf);
    if (!this.paused && this.stream.writableLength > this.engine.options.maxSocketBuffer) {
      this.paused = true;
      this.stream.pause();
    }
  }

  onDrain(): void {
    if (this.paused) {
      this.paused = false;
      if (!this.held) this.stream.resume();
    }
  }

  pauseReading(): void {
    this.held = true;
    this.stream.pause();
  }

  resumeReading(): void {
    this.held = false;
    if (!this.paused && !this.ended) this.stream.resume();
  }

  onSocketError(err: Error): void {
    this.engine.logger.debug({ err, clientId: this.channel.clientId }, 'socket error');
    // stop writing at once: every write to a destroyed stream would build an Error object
    this.ended = true;
    this.stream.destroy();
    this.channel.handleTransportClosed();
  }

  onClose(): void {
    this.clearConnectTimer();
    this.ended = true;
    this.channel.handleTransportClosed();
  }

  uncork(): void {
    this.corked = false;
    this.stream.uncork();
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== undefined) this.engine.clock.clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
  }

  // ---- ChannelOutput ----

  write(bytes: Buffer): void {
    if (this.ended || this.stream.destroyed) return;
    this.engine.stats.bytesSent += bytes.length;
    if (!this.corked) {
      this.corked = true;
      this.stream.cork();
      process.nextTick(uncorkLater, this);
    }
    this.stream.write(bytes);
  }

  end(): void {
    this.clearConnectTimer();
    if (this.ended) return;
    this.ended = true;
    if (this.corked) this.uncork();
    const stream = this.stream;
    // half-close: the client can still read our last packets (DISCONNECT) and its own writes
    // don't fail; a peer that never closes its side is cut off shortly after
    stream.end();
    setTimeout(() => stream.destroy(), 2000).unref();
  }

  get bufferedBytes(): number {
    return this.stream.writableLength;
  }

  setProtocolVersion(version: 3 | 4 | 5): void {
    this.reader.setProtocolVersion(version);
  }
}
