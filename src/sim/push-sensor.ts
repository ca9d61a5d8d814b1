// A sensor that pushes its own frames on a timer over UDP or TCP (it has a network; nobody polls it).
// Two frame formats: Cayenne LPP (a standard TLV layout) and a vendor-style fixed layout.
import dgram from 'node:dgram';
import net from 'node:net';
import { crc16Modbus } from './checksum.ts';
import { FaultInjector, corrupt } from './faults.ts';
import { MeterModel, systemClock, type SimClock } from './model.ts';

export const PushFormat = { CayenneLpp: 'cayenne-lpp', Fixed: 'fixed' } as const;
export type PushFormat = (typeof PushFormat)[keyof typeof PushFormat];

const LPP = { Temperature: 0x67, Humidity: 0x68, AnalogInput: 0x02, Barometer: 0x73 } as const;

/**
 * Fixed layout (16 bytes, big-endian):
 *   0-1 magic A5 5A · 2 version 1 · 3-6 sensor id uint32 · 7-8 frame counter uint16
 *   9-10 temperature int16 ×10 °C · 11 humidity ×2 %RH · 12-13 battery mV uint16 · 14-15 CRC-16/MODBUS (LE)
 */
export const FIXED_MAGIC = [0xa5, 0x5a] as const;
export const FIXED_LENGTH = 16;

export interface SensorReading {
  temperatureC: number;
  humidity: number;
  batteryMv: number;
  pressureHpa: number;
}

export class SensorModel {
  private readonly meter: MeterModel;
  private counter = 0;
  constructor(
    readonly sensorId: number,
    clock: SimClock = systemClock,
    seed = 3,
  ) {
    this.meter = new MeterModel(clock, seed);
  }
  read(): SensorReading & { counter: number } {
    const r = this.meter.read();
    const counter = this.counter;
    this.counter = (this.counter + 1) & 0xffff;
    return {
      temperatureC: r.temperatureC,
      humidity: 55 - (r.temperatureC - 20) * 2, // drier when warmer
      batteryMv: 3600 - Math.floor(counter / 100),
      pressureHpa: 1013 + (r.frequencyHz - 50) * 20,
      counter,
    };
  }
}

export function encodeLpp(r: SensorReading): Uint8Array {
  const b = Buffer.alloc(13);
  b.writeUInt8(1, 0);
  b.writeUInt8(LPP.Temperature, 1);
  b.writeInt16BE(Math.round(r.temperatureC * 10), 2);
  b.writeUInt8(2, 4);
  b.writeUInt8(LPP.Humidity, 5);
  b.writeUInt8(Math.round(r.humidity * 2), 6);
  b.writeUInt8(3, 7);
  b.writeUInt8(LPP.AnalogInput, 8);
  b.writeInt16BE(Math.round(r.batteryMv / 10), 9); // volts ×100
  b.writeUInt8(4, 11);
  b.writeUInt8(LPP.Barometer, 12);
  return Buffer.concat([
    b,
    Buffer.from([(Math.round(r.pressureHpa * 10) >> 8) & 0xff, Math.round(r.pressureHpa * 10) & 0xff]),
  ]);
}

export function encodeFixed(sensorId: number, r: SensorReading & { counter: number }): Uint8Array {
  const b = Buffer.alloc(FIXED_LENGTH);
  b[0] = FIXED_MAGIC[0];
  b[1] = FIXED_MAGIC[1];
  b[2] = 1;
  b.writeUInt32BE(sensorId >>> 0, 3);
  b.writeUInt16BE(r.counter, 7);
  b.writeInt16BE(Math.round(r.temperatureC * 10), 9);
  b.writeUInt8(Math.max(0, Math.min(200, Math.round(r.humidity * 2))), 11);
  b.writeUInt16BE(r.batteryMv, 12);
  const crc = crc16Modbus(b, FIXED_LENGTH - 2);
  b.writeUInt16LE(crc, FIXED_LENGTH - 2);
  return b;
}

export interface PushSensorOptions {
  sensorId: number;
  format: PushFormat;
  transport: 'udp' | 'tcp';
  host: string;
  port: number;
  intervalMs: number;
  faults?: FaultInjector;
  clock?: SimClock;
}

export interface PushSensor {
  readonly faults: FaultInjector;
  readonly sent: number;
  /** Sends one frame now (also done by the timer). */
  sendOnce(): void;
  close(): Promise<void>;
}

/** Starts pushing frames; a TCP sensor reconnects after a disconnect (fault or peer gone). */
export function startPushSensor(options: PushSensorOptions): PushSensor {
  const faults = options.faults ?? new FaultInjector();
  const model = new SensorModel(options.sensorId, options.clock);
  let sent = 0;
  let closed = false;
  let socket: net.Socket | undefined;
  let reconnect: NodeJS.Timeout | undefined;
  const udp = options.transport === 'udp' ? dgram.createSocket('udp4') : undefined;
  const connect = () => {
    if (closed || options.transport !== 'tcp') return;
    const s = net.connect(options.port, options.host);
    s.on('error', () => s.destroy());
    s.on('close', () => {
      if (socket === s) socket = undefined;
      if (!closed) reconnect = setTimeout(connect, Math.min(1000, options.intervalMs));
    });
    socket = s;
  };
  connect();
  const frame = () => {
    const r = model.read();
    return options.format === 'fixed' ? encodeFixed(options.sensorId, r) : encodeLpp(r);
  };
  const sendOnce = () => {
    const fault = faults.next();
    let bytes = frame();
    if (fault.mode === 'no-answer') return;
    if (fault.mode === 'bad-checksum') bytes = corrupt(bytes, 2);
    if (fault.mode === 'disconnect') {
      socket?.destroy();
      return;
    }
    const send = () => {
      if (closed) return;
      sent++;
      if (udp) udp.send(bytes, options.port, options.host);
      else socket?.write(bytes);
    };
    if (fault.mode === 'late') setTimeout(send, fault.delayMs).unref();
    else send();
  };
  const timer = setInterval(sendOnce, options.intervalMs);
  return {
    faults,
    get sent() {
      return sent;
    },
    sendOnce,
    close: async () => {
      closed = true;
      clearInterval(timer);
      clearTimeout(reconnect);
      socket?.destroy();
      if (udp) await new Promise<void>((resolve) => udp.close(() => resolve()));
    },
  };
}
