// Hand-written decoders for the benchmark frames: what a developer would write for one frame kind,
// producing the same fields and points as the built-in contract.
import type { DecodeResult, Point } from '../../src/contracts/index.ts';

function crcTable(poly: number, reflected: boolean): Uint16Array {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = reflected ? i : i << 8;
    for (let k = 0; k < 8; k++)
      c = reflected
        ? c & 1
          ? (c >>> 1) ^ poly
          : c >>> 1
        : c & 0x8000
          ? ((c << 1) ^ poly) & 0xffff
          : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
}
const MODBUS = crcTable(0xa001, true);
const CCITT = crcTable(0x1021, false);
export function crc16modbus(b: Uint8Array, from: number, to: number): number {
  let crc = 0xffff;
  for (let i = from; i < to; i++) crc = (crc >>> 8) ^ MODBUS[(crc ^ b[i]!) & 0xff]!;
  return crc;
}
export function crc16ccitt(b: Uint8Array, from: number, to: number): number {
  let crc = 0xffff;
  for (let i = from; i < to; i++) crc = ((crc << 8) ^ CCITT[((crc >>> 8) ^ b[i]!) & 0xff]!) & 0xffff;
  return crc;
}
const fail = (offset: number, reason: string): DecodeResult => ({ ok: false, error: { offset, reason } });
const TABLES: Record<number, string> = { 1: 'coil', 2: 'discrete', 3: 'holding', 4: 'input' };

function modbusPdu(
  b: Uint8Array,
  p: number,
  ctx: { start?: number; names?: string[] },
  out: Record<string, unknown>,
): Point[] {
  const n = b[p]!;
  const regs = new Array<number>(n >> 1);
  for (let i = 0; i < regs.length; i++) regs[i] = (b[p + 1 + 2 * i]! << 8) | b[p + 2 + 2 * i]!;
  out.byteCount = n;
  out.registers = regs;
  const table = TABLES[out.function as number]!;
  const start = ctx.start ?? 0;
  const points: Point[] = new Array(regs.length);
  for (let i = 0; i < regs.length; i++)
    points[i] = { name: ctx.names?.[i] ?? `${table}.${start + i}`, value: regs[i]! };
  out.table = table;
  return points;
}

export function handModbusRtu(b: Uint8Array, ctx: { start?: number; names?: string[] } = {}): DecodeResult {
  if (b.length < 5) return fail(b.length, 'truncated');
  const crc = b[b.length - 2]! | (b[b.length - 1]! << 8);
  if (crc16modbus(b, 0, b.length - 2) !== crc) return fail(b.length - 2, 'checksum');
  const code = b[1]!;
  const out: Record<string, unknown> = { unit: b[0], code, function: code & 0x7f, direction: 'response' };
  if (code & 0x80) return { ok: true, fields: { ...out, exception: b[2], crc }, points: [] };
  if (b[2]! + 5 !== b.length) return fail(2, 'length');
  const points = modbusPdu(b, 2, ctx, out);
  out.crc = crc;
  return { ok: true, fields: out, points };
}

export function handModbusTcp(b: Uint8Array, ctx: { start?: number; names?: string[] } = {}): DecodeResult {
  if (b.length < 8) return fail(b.length, 'truncated');
  const length = (b[4]! << 8) | b[5]!;
  if (length + 6 !== b.length) return fail(4, 'length');
  if (b[2] !== 0 || b[3] !== 0) return fail(2, 'invalid');
  const code = b[7]!;
  const out: Record<string, unknown> = {
    transaction: (b[0]! << 8) | b[1]!,
    protocol: 0,
    length,
    unit: b[6],
    code,
    function: code & 0x7f,
    direction: 'response',
  };
  if (code & 0x80) return { ok: true, fields: { ...out, exception: b[8] }, points: [] };
  if (b[8]! + 9 !== b.length) return fail(8, 'length');
  return { ok: true, fields: out, points: modbusPdu(b, 8, ctx, out) };
}

const HEX = [...Array(256).keys()].map((i) => i.toString(16).toUpperCase().padStart(2, '0'));
const DLT_ITEMS: Record<string, string> = {
  '00000000': 'energy_active_combined_total',
  '00010000': 'energy_active_forward_total',
  '02010100': 'voltage_a',
};
function bcd(b: Uint8Array, p: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 100 + (b[p + i]! >> 4) * 10 + (b[p + i]! & 15);
  return v;
}

export function handDlt645(b: Uint8Array): DecodeResult {
  let base = 0;
  while (base < 4 && b[base] === 0xfe) base++;
  if (b.length - base < 12) return fail(b.length, 'truncated');
  if (b[base] !== 0x68 || b[base + 7] !== 0x68) return fail(base, 'framing');
  const len = b[base + 9]!;
  const stop = base + len + 12;
  if (stop > b.length) return fail(b.length, 'truncated');
  if (b[stop - 1] !== 0x16) return fail(stop - 1, 'framing');
  let sum = 0;
  for (let i = base; i < stop - 2; i++) sum += b[i]!;
  if ((sum & 0xff) !== b[stop - 2]) return fail(stop - 2, 'checksum');
  let address = '';
  for (let i = base + 6; i >= base + 1; i--) address += HEX[b[i]!];
  const control = b[base + 8]!;
  const d = new Uint8Array(len);
  for (let i = 0; i < len; i++) d[i] = (b[base + 10 + i]! - 0x33) & 0xff;
  const fields: Record<string, unknown> = {
    address,
    control: `0x${HEX[control]}`,
    response: control >= 0x80,
    error: (control & 0x40) !== 0,
    more: (control & 0x20) !== 0,
    func: control & 0x1f,
    length: len,
  };
  const points: Point[] = [];
  if ((control & 0x1f) === 0x11 && len >= 4) {
    const di = HEX[d[3]!]! + HEX[d[2]!] + HEX[d[1]!] + HEX[d[0]!];
    const item = DLT_ITEMS[di] ?? di;
    fields.di = di;
    fields.item = item;
    if (control & 0x80) {
      if (di.startsWith('00') && len === 8) fields.value = bcd(d, 4, 4) / 100;
      else if (di.startsWith('0201') && len === 6) fields.value = bcd(d, 4, 2) / 10;
      if (fields.value !== undefined)
        points.push({ name: item, value: fields.value as number, unit: di.startsWith('00') ? 'kWh' : 'V' });
    }
  }
  fields.cs = b[stop - 2];
  return { ok: true, fields, points };
}

export function handAcme(b: Uint8Array): DecodeResult {
  if (b.length < 5) return fail(b.length, 'truncated');
  if (b[0] !== 0xaa || b[1] !== 0x55) return fail(0, 'framing');
  const len = b[2]!;
  if (len + 5 !== b.length) return fail(2, 'length');
  if (crc16ccitt(b, 2, b.length - 2) !== ((b[b.length - 2]! << 8) | b[b.length - 1]!))
    return fail(b.length - 2, 'checksum');
  const version = b[3]!;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const s = b[8]!;
  const status = { lowBattery: (s & 1) !== 0, tamper: (s & 2) !== 0, sensorFault: (s & 4) !== 0 };
  const temperature = Math.round(dv.getInt16(9) * 100 * 0.01) / 100;
  const humidity = Math.round(dv.getUint16(11) * 10 * 0.1) / 10;
  const battery = dv.getUint16(13);
  const pulses = dv.getUint16(17) * 65536 + dv.getUint16(15);
  const fields: Record<string, unknown> = {
    len,
    version,
    device: `0x${dv.getUint32(4).toString(16).toUpperCase().padStart(8, '0')}`,
    status,
    temperature,
    humidity,
    battery,
    pulses,
  };
  if (version >= 2) fields.co2 = dv.getUint16(19);
  fields.crc = dv.getUint16(b.length - 2);
  const dewPoint = Math.round((temperature - (100 - humidity) / 5) * 10) / 10;
  fields.dewPoint = dewPoint;
  const points: Point[] = [
    { name: 'temperature', value: temperature, unit: '°C' },
    { name: 'humidity', value: humidity, unit: '%' },
    { name: 'battery', value: battery, unit: 'mV' },
    { name: 'pulses', value: pulses },
  ];
  if (version >= 2) points.push({ name: 'co2', value: fields.co2 as number, unit: 'ppm' });
  points.push(
    { name: 'dew_point', value: dewPoint, unit: '°C' },
    { name: 'low_battery', value: status.lowBattery },
    { name: 'tamper', value: status.tamper },
  );
  return { ok: true, fields, points };
}

// Module-level readers and straight-line code: a per-frame closure or a loop over a literal table of
// axes would make the hand-written side slower than a careful developer's and flatter the contract.
const i16 = (b: Uint8Array, p: number) => (((b[p]! << 8) | b[p + 1]!) << 16) >> 16;
const i24 = (b: Uint8Array, p: number) => (((b[p]! << 16) | (b[p + 1]! << 8) | b[p + 2]!) << 8) >> 8;

export function handCayenne(b: Uint8Array): DecodeResult {
  const items: Record<string, unknown>[] = [];
  const points: Point[] = [];
  let p = 0;
  while (p < b.length) {
    if (p + 2 > b.length) return fail(p, 'truncated');
    const channel = b[p]!;
    const kind = b[p + 1]!;
    p += 2;
    if (kind === 103) {
      if (p + 2 > b.length) return fail(p, 'truncated');
      const temperature = i16(b, p) / 10;
      items.push({ channel, kind, temperature });
      points.push({ name: `temperature_${channel}`, value: temperature, unit: '°C' });
      p += 2;
    } else if (kind === 104) {
      if (p + 1 > b.length) return fail(p, 'truncated');
      const humidity = b[p]! / 2;
      items.push({ channel, kind, humidity });
      points.push({ name: `humidity_${channel}`, value: humidity, unit: '%' });
      p += 1;
    } else if (kind === 113) {
      if (p + 6 > b.length) return fail(p, 'truncated');
      const x = i16(b, p) / 1000;
      const y = i16(b, p + 2) / 1000;
      const z = i16(b, p + 4) / 1000;
      items.push({ channel, kind, x, y, z });
      points.push(
        { name: `accelerometer_${channel}_x`, value: x, unit: 'G' },
        { name: `accelerometer_${channel}_y`, value: y, unit: 'G' },
        { name: `accelerometer_${channel}_z`, value: z, unit: 'G' },
      );
      p += 6;
    } else if (kind === 136) {
      if (p + 9 > b.length) return fail(p, 'truncated');
      const latitude = i24(b, p) / 10000;
      const longitude = i24(b, p + 3) / 10000;
      const altitude = i24(b, p + 6) / 100;
      items.push({ channel, kind, latitude, longitude, altitude });
      points.push(
        { name: `gps_${channel}_latitude`, value: latitude, unit: '°' },
        { name: `gps_${channel}_longitude`, value: longitude, unit: '°' },
        { name: `gps_${channel}_altitude`, value: altitude, unit: 'm' },
      );
      p += 9;
    } else return fail(p - 1, 'invalid');
  }
  return { ok: true, fields: { items }, points };
}
