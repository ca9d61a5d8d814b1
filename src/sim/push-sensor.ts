// A sensor that pushes its own frames on a timer over UDP or TCP (it has a network; nobody polls it).
// Two frame formats: Cayenne LPP (a standard TLV layout) and a vendor-style fixed layout.
import dgram from 'node:dgram';
import net from 'node:net';
import { crc16CcittFalse } from './checksum.ts';
import { FaultInjector, corrupt } from './faults.ts';
import { MeterModel, systemClock, type Clock } from './model.ts';

export const PushFormat = { CayenneLpp: 'cayenne-lpp', Fixed: 'fixed' } as const;
export type PushFormat = (typeof PushFormat)[keyof typeof PushFormat];

const LPP = { Temperature: 0x67, Humidity: 0x68, AnalogInput: 0x02, Barometer: 0x73 } as const;

/**
 * Fixed layout: the ACME TH-10 vendor frame (built-in contract `acme-th10`), version 1, 21 bytes:
 *   AA 55 | len 16 | version 1 | device id u32 | status flags | temperature i16 ×100 °C | humidity u16 ×10 %
 *   | battery u16 mV | pulse counter u32 (low word first) | CRC-16/CCITT-FALSE (big endian) over len..data
 */
export const FIXED_MAGIC = [0xaa, 0x55] as const;
export const FIXED_LENGTH = 21;

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
    clock: Clock = systemClock,
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
  b[2] = 16; // bytes from version to the last data byte
  b[3] = 1;
  b.writeUInt32BE(sensorId >>> 0, 4);
  b[8] = r.batteryMv < 3300 ? 1 : 0; // low-battery flag
  b.writeInt16BE(Math.round(r.temperatureC * 100), 9);
  b.writeUInt16BE(Math.max(0, Math.min(1000, Math.round(r.humidity * 10))), 11);
  b.writeUInt16BE(r.batteryMv, 13);
  b.writeUInt16BE(r.counter & 0xffff, 15); // pulses, CDAB: low word first
  b.writeUInt16BE(0, 17);
  b.writeUInt16BE(crc16CcittFalse(b.subarray(2, 19)), 19);
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
  clock?: Clock;
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
