/** Fakes for pure channel tests: a manual clock and an output that decodes what the channel writes. */
import mqttPacket, { type Packet } from 'mqtt-packet';
import { Broker, type BrokerDeps, type BrokerOptions } from '../../src/broker/index.ts';
import { Channel, type ChannelOutput } from '../../src/broker/channel.ts';
import type { Clock, TimerHandle } from '../../src/broker/types.ts';

export class FakeClock implements Clock {
  private t = 1_000_000;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private seq = 0;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.timers.push({ at: this.t + ms, fn, id });
    return { id } as TimerHandle;
  }
  clearTimeout(h: TimerHandle): void {
    const id = (h as { id: number }).id;
    this.timers = this.timers.filter((t) => t.id !== id);
  }
  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (next === undefined || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

export class FakeOutput implements ChannelOutput {
  readonly packets: Packet[] = [];
  ended = false;
  bufferedBytes = 0;
  private parser = mqttPacket.parser({ protocolVersion: 4 });
  constructor() {
    this.parser.on('packet', (p: Packet) => this.packets.push(p));
    this.parser.on('error', (e: Error) => {
      throw e;
    });
  }
  write(bytes: Buffer): void {
    this.parser.parse(bytes);
  }
  end(): void {
    this.ended = true;
  }
  setProtocolVersion(version: 3 | 4 | 5): void {
    (this.parser as unknown as { settings: { protocolVersion: number } }).settings.protocolVersion = version;
  }
  /** Removes and returns what was written so far. */
  take(): Packet[] {
    return this.packets.splice(0);
  }
}

export function newBroker(
  options: Partial<BrokerOptions> = {},
  deps: BrokerDeps = {},
): { broker: Broker; clock: FakeClock } {
  const clock = new FakeClock();
  return { broker: new Broker(options, { ...deps, clock }), clock };
}

export function openChannel(broker: Broker): { ch: Channel; out: FakeOutput } {
  const out = new FakeOutput();
  const ch = new Channel(broker, out, { transport: 'tcp' });
  broker.channels.add(ch);
  return { ch, out };
}

/** Opens a channel and connects it; returns the CONNACK too. */
export function connected(
  broker: Broker,
  clientId: string,
  opts: {
    v?: 3 | 4 | 5;
    clean?: boolean;
    keepalive?: number;
    properties?: Record<string, unknown>;
    will?: unknown;
    username?: string;
  } = {},
): { ch: Channel; out: FakeOutput; connack: Packet } {
  const { ch, out } = openChannel(broker);
  const v = opts.v ?? 5;
  ch.handlePacket({
    cmd: 'connect',
    protocolId: v === 3 ? 'MQIsdp' : 'MQTT',
    protocolVersion: v,
    clientId,
    clean: opts.clean ?? true,
    keepalive: opts.keepalive ?? 0,
    ...(opts.properties ? { properties: opts.properties } : {}),
    ...(opts.will ? { will: opts.will } : {}),
    ...(opts.username !== undefined ? { username: opts.username } : {}),
  } as Packet);
  const connack = out.packets.shift();
  if (connack === undefined) throw new Error('no CONNACK');
  return { ch, out, connack };
}
