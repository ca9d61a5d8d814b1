// The same frames parsed with the `binary-parser` package (generated code); checksums, scaling and
// points are added by hand around it, since binary-parser has no notion of them.
import { Parser } from 'binary-parser';
import type { DecodeResult, Point } from '../../src/contracts/index.ts';
import { crc16ccitt, crc16modbus } from './hand.ts';

type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const fail = (offset: number, reason: string): DecodeResult => ({ ok: false, error: { offset, reason } });
const TABLES: Record<number, string> = { 1: 'coil', 2: 'discrete', 3: 'holding', 4: 'input' };

const rtu = new Parser()
  .uint8('unit')
  .uint8('code')
  .choice({
    tag: 'code',
    choices: {
      3: new Parser().uint8('byteCount').array('registers', { type: 'uint16be', lengthInBytes: 'byteCount' }),
      4: new Parser().uint8('byteCount').array('registers', { type: 'uint16be', lengthInBytes: 'byteCount' }),
    },
    defaultChoice: new Parser().uint8('exception'),
  })
  .uint16le('crc');

function registerPoints(out: Any, ctx: { start?: number; names?: string[] }): Point[] {
  const regs = out.registers as number[];
  const table = TABLES[out.function as number]!;
  const start = ctx.start ?? 0;
  return regs.map((v, i) => ({ name: ctx.names?.[i] ?? `${table}.${start + i}`, value: v }));
}

export function bpModbusRtu(b: Uint8Array, ctx: { start?: number; names?: string[] } = {}): DecodeResult {
  if (b.length < 5) return fail(b.length, 'truncated');
  if (crc16modbus(b, 0, b.length - 2) !== (b[b.length - 2]! | (b[b.length - 1]! << 8)))
    return fail(b.length - 2, 'checksum');
  try {
    const out = rtu.parse(b) as Any;
    out.function = out.code & 0x7f;
    return { ok: true, fields: out, points: out.registers ? registerPoints(out, ctx) : [] };
  } catch (err) {
    return fail(0, `truncated: ${(err as Error).message}`);
  }
}

const tcp = new Parser()
  .uint16be('transaction')
  .uint16be('protocol', { assert: 0 })
  .uint16be('length')
  .uint8('unit')
  .uint8('code')
  .choice({
    tag: 'code',
    choices: {
      3: new Parser().uint8('byteCount').array('registers', { type: 'uint16be', lengthInBytes: 'byteCount' }),
      4: new Parser().uint8('byteCount').array('registers', { type: 'uint16be', lengthInBytes: 'byteCount' }),
    },
    defaultChoice: new Parser().uint8('exception'),
  });

export function bpModbusTcp(b: Uint8Array, ctx: { start?: number; names?: string[] } = {}): DecodeResult {
  if (b.length < 8 || ((b[4]! << 8) | b[5]!) + 6 !== b.length) return fail(4, 'length');
  try {
    const out = tcp.parse(b) as Any;
    out.function = out.code & 0x7f;
    return { ok: true, fields: out, points: out.registers ? registerPoints(out, ctx) : [] };
  } catch (err) {
    return fail(0, `invalid: ${(err as Error).message}`);
  }
}

const HEX = [...Array(256).keys()].map((i) => i.toString(16).toUpperCase().padStart(2, '0'));
const hexRev = (a: Uint8Array) => {
  let s = '';
  for (let i = a.length - 1; i >= 0; i--) s += HEX[a[i]!];
  return s;
};
const dlt = new Parser()
  .uint8('start', { assert: 0x68 })
  .buffer('address', { length: 6, formatter: (a: Uint8Array) => hexRev(a) })
  .uint8('start2', { assert: 0x68 })
  .uint8('control')
  .uint8('length')
  .buffer('data', { length: 'length', formatter: (a: Uint8Array) => a.map((x) => (x - 0x33) & 0xff) })
  .uint8('cs')
  .uint8('end', { assert: 0x16 });
const DLT_ITEMS: Record<string, string> = {
  '00000000': 'energy_active_combined_total',
  '00010000': 'energy_active_forward_total',
  '02010100': 'voltage_a',
};

export function bpDlt645(frame: Uint8Array): DecodeResult {
  let base = 0;
  while (base < 4 && frame[base] === 0xfe) base++;
  const b = frame.subarray(base);
  try {
    const out = dlt.parse(b) as Any;
    let sum = 0;
    for (let i = 0; i < b.length - 2; i++) sum += b[i]!;
    if ((sum & 0xff) !== out.cs) return fail(base + b.length - 2, 'checksum');
    const d = out.data as Uint8Array;
    const points: Point[] = [];
    out.control = `0x${HEX[out.control]}`;
    if (d.length >= 4) {
      out.di = hexRev(d.subarray(0, 4));
      out.item = DLT_ITEMS[out.di] ?? out.di;
      let v = 0;
      for (let i = d.length - 1; i >= 4; i--) v = v * 100 + (d[i]! >> 4) * 10 + (d[i]! & 15);
      if (out.di.startsWith('00')) out.value = v / 100;
      else if (out.di.startsWith('0201')) out.value = v / 10;
      if (out.value !== undefined)
        points.push({ name: out.item, value: out.value, unit: out.di.startsWith('00') ? 'kWh' : 'V' });
    }
    return { ok: true, fields: out, points };
  } catch (err) {
    return fail(0, `invalid: ${(err as Error).message}`);
  }
}

const acme = new Parser()
  .uint16be('magic', { assert: 0xaa55 })
  .uint8('len')
  .uint8('version')
  .uint32be('device')
  .bit5('reserved')
  .bit1('sensorFault')
  .bit1('tamper')
  .bit1('lowBattery')
  .int16be('temperature', { formatter: (v: number) => v / 100 })
  .uint16be('humidity', { formatter: (v: number) => v / 10 })
  .uint16be('battery')
  .uint16be('lo')
  .uint16be('hi')
  .choice({ tag: 'version', choices: { 1: new Parser() }, defaultChoice: new Parser().uint16be('co2') })
  .uint16be('crc');

export function bpAcme(b: Uint8Array): DecodeResult {
  if (b.length < 5 || b[2]! + 5 !== b.length) return fail(2, 'length');
  if (crc16ccitt(b, 2, b.length - 2) !== ((b[b.length - 2]! << 8) | b[b.length - 1]!))
    return fail(b.length - 2, 'checksum');
  try {
    const o = acme.parse(b) as Any;
    const pulses = o.hi * 65536 + o.lo;
    const dewPoint = Math.round((o.temperature - (100 - o.humidity) / 5) * 10) / 10;
    const points: Point[] = [
      { name: 'temperature', value: o.temperature, unit: '°C' },
      { name: 'humidity', value: o.humidity, unit: '%' },
      { name: 'battery', value: o.battery, unit: 'mV' },
      { name: 'pulses', value: pulses },
    ];
    if (o.co2 !== undefined) points.push({ name: 'co2', value: o.co2, unit: 'ppm' });
    points.push(
      { name: 'dew_point', value: dewPoint, unit: '°C' },
      { name: 'low_battery', value: o.lowBattery === 1 },
      { name: 'tamper', value: o.tamper === 1 },
    );
    return { ok: true, fields: { ...o, pulses, dewPoint }, points };
  } catch (err) {
    return fail(0, `invalid: ${(err as Error).message}`);
  }
}

const lppItem = new Parser()
  .uint8('channel')
  .uint8('kind')
  .choice({
    tag: 'kind',
    choices: {
      103: new Parser().int16be('temperature', { formatter: (v: number) => v / 10 }),
      104: new Parser().uint8('humidity', { formatter: (v: number) => v / 2 }),
      113: new Parser()
        .int16be('x', { formatter: (v: number) => v / 1000 })
        .int16be('y', { formatter: (v: number) => v / 1000 })
        .int16be('z', { formatter: (v: number) => v / 1000 }),
      136: new Parser()
        .bit24('latitude', { formatter: (v: number) => ((v << 8) >> 8) / 10000 })
        .bit24('longitude', { formatter: (v: number) => ((v << 8) >> 8) / 10000 })
        .bit24('altitude', { formatter: (v: number) => ((v << 8) >> 8) / 100 }),
    },
  });
const lpp = new Parser().array('items', { type: lppItem, readUntil: 'eof' });
const LPP_POINTS: Record<number, [string, string, string][]> = {
  103: [['temperature', 'temperature', '°C']],
  104: [['humidity', 'humidity', '%']],
  113: [
    ['x', 'accelerometer_#_x', 'G'],
    ['y', 'accelerometer_#_y', 'G'],
    ['z', 'accelerometer_#_z', 'G'],
  ],
  136: [
    ['latitude', 'gps_#_latitude', '°'],
    ['longitude', 'gps_#_longitude', '°'],
    ['altitude', 'gps_#_altitude', 'm'],
  ],
};

export function bpCayenne(b: Uint8Array): DecodeResult {
  try {
    const out = lpp.parse(b) as Any;
    const points: Point[] = [];
    for (const it of out.items as Any[]) {
      for (const [k, name, unit] of LPP_POINTS[it.kind] ?? []) {
        points.push({
          name: name.includes('#') ? name.replace('#', String(it.channel)) : `${name}_${it.channel}`,
          value: it[k],
          unit,
        });
      }
    }
    return { ok: true, fields: out, points };
  } catch (err) {
    return fail(0, `invalid: ${(err as Error).message}`);
  }
}
