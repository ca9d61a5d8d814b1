import net from 'node:net';
import tls from 'node:tls';
import mqttPacket, {
  type IAuthPacket,
  type IConnackPacket,
  type IConnectPacket,
  type Packet,
} from 'mqtt-packet';
import type { Logger } from 'pino';
import { Backoff } from './backoff.ts';
import type { Clock } from './clock.ts';
import type { AccessOptions, UpstreamConfig } from './config.ts';
import { DownCause, UPSTREAM_NAMES, type Upstream } from './failover.ts';
import { FrameSplitter, MalformedFrameError, PINGREQ_FRAME, PacketType, frameType } from './frames.ts';
import { Liveness, LivenessVerdict } from './liveness.ts';

export interface UpstreamListener {
  /** The broker answered our CONNECT (accepted or not). */
  onConnack(upstream: Upstream, connack: IConnackPacket): void;
  /**
   * The broker continues enhanced authentication before its CONNACK (v5 AUTH 0x18): the `step`-th
   * challenge of this connection, counted from 0. Answer with `sendAuth`.
   */
  onAuth(upstream: Upstream, step: number, auth: IAuthPacket): void;
  /** Any frame after a successful CONNACK (DISCONNECT and keep-alive are handled here first). */
  onFrame(upstream: Upstream, type: number, frame: Buffer): void;
  /** The socket's queue has drained (after `needsDrain` was true). */
  onDrain(upstream: Upstream): void;
  /** The link is gone; a reconnect is scheduled unless the link was closed. */
  onDown(upstream: Upstream, cause: string, wasUp: boolean): void;
}

export const LinkState = { Idle: 'idle', Connecting: 'connecting', Up: 'up', Closed: 'closed' } as const;
export type LinkState = (typeof LinkState)[keyof typeof LinkState];

/** Parses one whole frame synchronously with mqtt-packet (for the rare packet types). */
export function parseWhole(parser: mqttPacket.Parser, frame: Buffer): Packet | undefined {
  let out: Packet | undefined;
  let failure: Error | undefined;
  const onPacket = (p: Packet) => (out = p);
  const onError = (e: Error) => (failure = e);
  parser.on('packet', onPacket);
  parser.on('error', onError);
  try {
    parser.parse(frame);
  } finally {
    parser.off('packet', onPacket);
    parser.off('error', onError);
  }
  if (failure) throw new MalformedFrameError(failure.message);
  return out;
}

/**
 * One MQTT link from the module to one broker, for one client session: socket (TCP or TLS), CONNECT
 * and CONNACK, keep-alive, and reconnects with decorrelated-jitter backoff. Frames after CONNACK go
 * to the listener as bytes.
 */
export class UpstreamLink {
  state: LinkState = LinkState.Idle;
  private socket: net.Socket | undefined;
  private readonly splitter = new FrameSplitter();
  private parser: mqttPacket.Parser;
  private settings: { protocolVersion: 3 | 4 | 5 } = { protocolVersion: 4 };
  private readonly backoff: Backoff;
  private readonly liveness: Liveness;
  private connectPacket: IConnectPacket | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  /** AUTH packets received on this connection before its CONNACK. */
  private authSteps = 0;
  private livenessTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  readonly name: string;
  private readonly config: UpstreamConfig;
  connects = 0;
  bytesOut = 0;

  constructor(
    readonly index: Upstream,
    private readonly options: AccessOptions,
    private readonly clock: Clock,
    private readonly listener: UpstreamListener,
    private readonly logger?: Logger,
    random: () => number = Math.random,
  ) {
    this.name = UPSTREAM_NAMES[index];
    this.config = index === 0 ? options.broker1 : options.broker2;
    this.parser = mqttPacket.parser({ protocolVersion: 4 });
    this.backoff = new Backoff({ baseMs: options.backoffBaseMs, capMs: options.backoffCapMs }, random);
    this.liveness = new Liveness(options.upstreamKeepAlive * 1000, clock);
  }

  get isUp(): boolean {
    return this.state === LinkState.Up;
  }

  /** More is queued on the socket than its high-water mark: stop feeding it until onDrain. */
  get needsDrain(): boolean {
    return this.socket?.writableNeedDrain ?? false;
  }

  /** Starts (and keeps) the link with this CONNECT; our credentials replace the client's when configured. */
  start(connect: IConnectPacket): void {
    const packet: IConnectPacket = { ...connect, keepalive: this.options.upstreamKeepAlive };
    if (this.config.username !== undefined) packet.username = this.config.username;
    if (this.config.password !== undefined) packet.password = Buffer.from(this.config.password);
    this.connectPacket = packet;
    this.settings = { protocolVersion: packet.protocolVersion ?? 4 };
    this.parser = mqttPacket.parser(this.settings);
    this.open();
  }

  send(frame: Buffer): void {
    if (this.state !== LinkState.Up || !this.socket) return;
    this.liveness.sent();
    this.bytesOut += frame.length;
    if (!this.corked) {
      // Frames forwarded from one incoming chunk leave in one write (one syscall, one TCP segment).
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    this.socket.write(frame);
  }

  private corked = false;
  private readonly uncork = (): void => {
    this.corked = false;
    this.socket?.uncork();
  };

  /** An AUTH answer during the CONNECT exchange (before the CONNACK, when `send` sends nothing). */
  sendAuth(packet: IAuthPacket): void {
    if (this.state !== LinkState.Connecting || !this.socket) return;
    this.socket.write(mqttPacket.generate(packet, this.settings));
  }

  /**
   * The client re-authenticated with new data (AUTH 0x19 accepted): a later reconnect of this link
   * sends it in its CONNECT, so the recorded conversation (the re-authentication's) fits it.
   */
  setAuthenticationData(data: Buffer | undefined): void {
    const packet = this.connectPacket;
    if (!packet?.properties) return;
    packet.properties = { ...packet.properties, authenticationData: data };
    if (data === undefined) delete packet.properties.authenticationData;
  }

  sendPacket(packet: Packet): void {
    if (this.state !== LinkState.Up) return;
    this.send(mqttPacket.generate(packet, this.settings));
  }

  /** Ends the link for good. Graceful: DISCONNECT first (the broker drops the will [MQTT-3.14.4-3]). */
  close(graceful: boolean, disconnect?: Packet): void {
    if (this.state === LinkState.Closed) return;
    const socket = this.socket;
    if (this.corked) this.uncork();
    if (graceful && this.state === LinkState.Up && socket) {
      socket.end(mqttPacket.generate(disconnect ?? { cmd: 'disconnect' }, this.settings));
    } else socket?.destroy();
    this.state = LinkState.Closed;
    this.clearTimers();
    this.socket = undefined;
  }

  private open(): void {
    const c = this.config;
    this.state = LinkState.Connecting;
    this.authSteps = 0;
    this.splitter.reset();
    const socket = c.tls
      ? tls.connect({
          host: c.host,
          port: c.port,
          ca: c.ca,
          cert: c.cert,
          key: c.key,
          rejectUnauthorized: c.rejectUnauthorized,
          servername: c.servername ?? (net.isIP(c.host) ? undefined : c.host),
        })
      : net.connect({ host: c.host, port: c.port });
    socket.setNoDelay(true);
    socket.on('drain', () => this.listener.onDrain(this.index));
    this.socket = socket;
    this.armConnectTimer(socket);
    socket.once(c.tls ? 'secureConnect' : 'connect', () => {
      socket.write(mqttPacket.generate(this.connectPacket!, this.settings));
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        this.splitter.push(chunk, (frame) => this.onFrame(socket, frame));
      } catch (err) {
        this.fail(socket, DownCause.ProtocolError, (err as Error).message);
      }
    });
    socket.on('error', (err) =>
      this.fail(
        socket,
        this.state === LinkState.Up ? DownCause.SocketError : DownCause.ConnectFailed,
        err.message,
      ),
    );
    socket.on('close', () =>
      this.fail(
        socket,
        this.state === LinkState.Up ? DownCause.SocketClosed : DownCause.ConnectFailed,
        'closed',
      ),
    );
  }

  /** The CONNACK (or the next AUTH step) must come within the connect timeout. */
  private armConnectTimer(socket: net.Socket): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(
      () => this.fail(socket, DownCause.ConnectFailed, 'CONNACK timeout'),
      this.options.connectTimeoutMs,
    );
  }

  private onFrame(socket: net.Socket, frame: Buffer): void {
    if (socket !== this.socket) return;
    this.liveness.received(false);
    const type = frameType(frame);
    if (this.state === LinkState.Connecting) {
      const packet = parseWhole(this.parser, frame);
      if (packet?.cmd === 'auth' && this.settings.protocolVersion === 5) {
        this.armConnectTimer(socket);
        return this.listener.onAuth(this.index, this.authSteps++, packet);
      }
      if (!packet || packet.cmd !== 'connack')
        return this.fail(socket, DownCause.ProtocolError, `expected CONNACK, got ${packet?.cmd}`);
      clearTimeout(this.connectTimer);
      const v5 = this.settings.protocolVersion === 5;
      const code = (v5 ? packet.reasonCode : packet.returnCode) ?? 0;
      if (code !== 0) {
        this.listener.onConnack(this.index, packet);
        return this.fail(socket, DownCause.ConnectRefused, `refused with code 0x${code.toString(16)}`);
      }
      this.state = LinkState.Up;
      this.connects++;
      this.backoff.reset();
      this.liveness.reset();
      this.livenessTimer = setInterval(() => this.checkLiveness(socket), this.liveness.checkIntervalMs);
      this.listener.onConnack(this.index, packet);
      return;
    }
    if (type === PacketType.Pingresp) this.liveness.received(true);
    else if (type === PacketType.Disconnect) {
      // The broker says it is going away (e.g. 0x8B server shutting down): switch now, not at the close.
      const packet = parseWhole(this.parser, frame);
      const code = packet?.cmd === 'disconnect' ? (packet.reasonCode ?? 0) : 0;
      return this.fail(
        socket,
        `${DownCause.ServerDisconnect}:0x${code.toString(16).padStart(2, '0')}`,
        'DISCONNECT',
      );
    }
    this.listener.onFrame(this.index, type, frame);
  }

  private checkLiveness(socket: net.Socket): void {
    const verdict = this.liveness.check();
    if (verdict === LivenessVerdict.Ping) {
      this.bytesOut += 2;
      socket.write(PINGREQ_FRAME);
    } else if (verdict === LivenessVerdict.Dead) this.fail(socket, DownCause.KeepAliveTimeout, 'no answer');
  }

  private fail(socket: net.Socket, cause: string, detail: string): void {
    if (socket !== this.socket || this.state === LinkState.Closed) return;
    const wasUp = this.state === LinkState.Up;
    this.clearTimers();
    this.socket = undefined;
    socket.destroy();
    this.state = LinkState.Idle;
    const delay = this.backoff.next();
    this.logger?.info({ upstream: this.name, cause, detail, retryInMs: delay }, 'upstream link down');
    this.reconnectTimer = setTimeout(() => this.open(), delay);
    this.listener.onDown(this.index, cause, wasUp);
  }

  private clearTimers(): void {
    clearTimeout(this.connectTimer);
    clearInterval(this.livenessTimer);
    clearTimeout(this.reconnectTimer);
  }
}
