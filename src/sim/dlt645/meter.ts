// A DL/T 645-2007 electricity meter's link layer and data: answers read requests (C=0x11) for the common
// data identifiers, broadcast address reads (C=0x13), relay control (C=0x1C), and answers anything it
// does not know with an error frame. Pure apart from the meter model's clock.
import { sum8 } from '../checksum.ts';
import { MeterModel, systemClock, type Clock } from '../model.ts';
import type { FrameDevice } from '../stream-endpoint.ts';

export const Dlt645Control = {
  Read: 0x11,
  ReadAddress: 0x13,
  Relay: 0x1c,
  ReplyFlag: 0x80,
  ErrorFlag: 0x40,
} as const;

/** Error word bits of an abnormal reply (DL/T 645-2007 §7.3). */
export const Dlt645Error = {
  Other: 0x01,
  NoData: 0x02, // requested data identifier unknown
  Password: 0x04, // wrong password / unauthorised
} as const;

/** Relay control N1 codes (§7.7): trip (switch off) and the two ways to close. */
export const RelayCode = { Trip: 0x1a, AllowClose: 0x1b, Close: 0x1c } as const;

const START = 0x68;
const END = 0x16;
const WAKE = 0xfe;
const OFFSET = 0x33;
const BROADCAST = 'AAAAAAAAAAAA';

interface DiFormat {
  /** Bytes of BCD. */
  size: number;
  decimals: number;
  signed?: boolean;
  value(r: ReturnType<MeterModel['read']>): number;
}

/** The common data identifiers (hex, as written in the standard). */
export const DATA_IDENTIFIERS: Readonly<Record<string, DiFormat>> = {
  '00000000': { size: 4, decimals: 2, value: (r) => r.energyKwh - r.reverseEnergyKwh }, // combined active, kWh
  '00010000': { size: 4, decimals: 2, value: (r) => r.energyKwh }, // forward active total, kWh
  '00020000': { size: 4, decimals: 2, value: (r) => r.reverseEnergyKwh }, // reverse active total, kWh
  '02010100': { size: 2, decimals: 1, value: (r) => r.voltage[0] }, // phase A voltage, V
  '02010200': { size: 2, decimals: 1, value: (r) => r.voltage[1] },
  '02010300': { size: 2, decimals: 1, value: (r) => r.voltage[2] },
  '02020100': { size: 3, decimals: 3, signed: true, value: (r) => r.current[0] }, // phase A current, A
  '02020200': { size: 3, decimals: 3, signed: true, value: (r) => r.current[1] },
  '02020300': { size: 3, decimals: 3, signed: true, value: (r) => r.current[2] },
  '02030000': { size: 3, decimals: 4, signed: true, value: (r) => r.powerKw }, // total active power, kW
  '02030100': { size: 3, decimals: 4, signed: true, value: (r) => r.powerKw / 3 },
  '02060000': { size: 2, decimals: 3, signed: true, value: (r) => r.powerFactor }, // total power factor
  '02060100': { size: 2, decimals: 3, signed: true, value: (r) => r.powerFactor },
  '02800002': { size: 2, decimals: 2, value: (r) => r.frequencyHz }, // grid frequency, Hz
};

/** Little-endian BCD of `value` with `decimals`, sign in the top bit of the last byte when signed. */
export function toBcd(value: number, size: number, decimals: number, signed = false): Uint8Array {
  const negative = signed && value < 0;
  const digits = Math.round(Math.abs(value) * 10 ** decimals)
    .toString()
    .padStart(size * 2, '0')
    .slice(-size * 2);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    const pair = digits.slice(digits.length - 2 * (i + 1), digits.length - 2 * i);
    out[i] = (Number(pair[0]) << 4) | Number(pair[1]);
  }
  if (negative) out[size - 1]! |= 0x80;
  return out;
}

export class Dlt645Meter implements FrameDevice {
  readonly checksumFromEnd = 2; // CS sits before the 0x16 end byte
  readonly model: MeterModel;
  /** 12 hex digits, most significant first, as printed on the meter. */
  readonly address: string;

  constructor(
    address: string,
    clock: Clock = systemClock,
    seed = 7,
    /** 6 hex digits (P0..P2); any password is accepted when absent. */
    private readonly password?: string,
  ) {
    if (!/^[0-9]{12}$/.test(address)) throw new Error(`DL/T 645 address must be 12 digits, got '${address}'`);
    this.address = address;
    this.model = new MeterModel(clock, seed);
  }

  extract(buf: Uint8Array): { frame: Uint8Array; length: number } | { need: true } | { skip: number } {
    let i = 0;
    while (i < buf.length && buf[i] === WAKE) i++;
    if (i === buf.length) return { need: true };
    if (buf[i] !== START) return { skip: i + 1 };
    if (buf.length < i + 10) return { need: true };
    if (buf[i + 7] !== START) return { skip: i + 1 };
    const length = 12 + buf[i + 9]!;
    if (buf.length < i + length) return { need: true };
    const frame = buf.subarray(i, i + length);
    if (frame[length - 1] !== END || sum8(frame, 0, length - 2) !== frame[length - 2]) return { skip: i + 1 };
    return { frame, length: i + length };
  }

  answer(request: Uint8Array): Uint8Array | undefined {
    const address = Array.from(request.subarray(1, 7))
      .reverse()
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('')
      .toUpperCase();
    const control = request[8]!;
    const data = Array.from(request.subarray(10, 10 + request[9]!), (b) => (b - OFFSET) & 0xff);
    if (control === Dlt645Control.ReadAddress && address === BROADCAST)
      return this.reply(control, Array.from(this.addressBytes()));
    if (address !== this.address && address !== BROADCAST) return undefined; // not for us: stay silent
    switch (control) {
      case Dlt645Control.Read:
        return this.read(data);
      case Dlt645Control.Relay:
        return this.relay(data);
      default:
        return this.error(control, Dlt645Error.Other);
    }
  }

  private read(data: number[]): Uint8Array {
    if (data.length < 4) return this.error(Dlt645Control.Read, Dlt645Error.Other);
    const di = data
      .slice(0, 4)
      .reverse()
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('')
      .toUpperCase();
    const format = DATA_IDENTIFIERS[di];
    if (!format) return this.error(Dlt645Control.Read, Dlt645Error.NoData);
    const value = toBcd(format.value(this.model.read()), format.size, format.decimals, format.signed);
    return this.reply(Dlt645Control.Read, [...data.slice(0, 4), ...value]);
  }

  private relay(data: number[]): Uint8Array {
    // PA P0 P1 P2 (password), C0..C3 (operator), N1 (code), N2 (reserved), N3..N8 (valid until)
    if (data.length < 16) return this.error(Dlt645Control.Relay, Dlt645Error.Other);
    const password = data
      .slice(1, 4)
      .reverse()
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('');
    if (this.password !== undefined && password !== this.password.toLowerCase())
      return this.error(Dlt645Control.Relay, Dlt645Error.Password);
    const code = data[8];
    if (code === RelayCode.Trip) this.model.setRelay(false);
    else if (code === RelayCode.AllowClose || code === RelayCode.Close) this.model.setRelay(true);
    else return this.error(Dlt645Control.Relay, Dlt645Error.Other);
    return this.reply(Dlt645Control.Relay, []);
  }

  private addressBytes(): Uint8Array {
    return Uint8Array.from(this.address.match(/../g)!.reverse(), (h) => parseInt(h, 16));
  }

  private reply(control: number, data: number[]): Uint8Array {
    return this.frame(control | Dlt645Control.ReplyFlag, data);
  }

  private error(control: number, code: number): Uint8Array {
    return this.frame(control | Dlt645Control.ReplyFlag | Dlt645Control.ErrorFlag, [code]);
  }

  private frame(control: number, data: number[]): Uint8Array {
    const out = new Uint8Array(12 + data.length);
    out[0] = START;
    out.set(this.addressBytes(), 1);
    out[7] = START;
    out[8] = control;
    out[9] = data.length;
    data.forEach((b, i) => (out[10 + i] = (b + OFFSET) & 0xff));
    out[out.length - 2] = sum8(out, 0, out.length - 2);
    out[out.length - 1] = END;
    return out;
  }
}
