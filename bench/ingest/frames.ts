// The frames the ingest and decoding benchmarks send: a DL/T 645 energy reading and a Modbus TCP
// two-register answer, from `devices` devices in turn, 10 ms apart.
import type { Frame } from '../../src/protocol/envelope.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
export const DLT = hex('68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16');
export const MODBUS = hex('00 01 00 00 00 07 01 03 04 00 05 00 06');
export const T0 = Date.UTC(2026, 0, 1);

/** Frame number `i`: device i mod `devices`, even devices DL/T 645 meters, odd ones Modbus. */
export function benchFrame(i: number, devices: number): Frame {
  const device = i % devices;
  const ts = T0 + i * 10;
  return device % 2 === 0
    ? { dev: `meter-${device}`, c: 'dlt645-2007', ts, seq: i, raw: DLT, ctx: { di: '00010000' } }
    : {
        dev: `pm-${device}`,
        c: 'modbus-tcp',
        ts,
        seq: i,
        raw: MODBUS,
        ctx: { unit: 1, function: 3, start: 3, count: 2 },
      };
}
