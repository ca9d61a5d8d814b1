// A Modbus slave's application layer: register maps per unit id and the PDU handler (function codes
// 1-6, 15, 16). Pure: a request PDU in, a response PDU out; framing (TCP MBAP, RTU CRC) lives elsewhere.
import { MeterModel, systemClock, type Clock } from '../model.ts';

export const ModbusFunction = {
  ReadCoils: 1,
  ReadDiscreteInputs: 2,
  ReadHoldingRegisters: 3,
  ReadInputRegisters: 4,
  WriteSingleCoil: 5,
  WriteSingleRegister: 6,
  WriteMultipleCoils: 15,
  WriteMultipleRegisters: 16,
} as const;

export const ModbusException = {
  IllegalFunction: 1,
  IllegalDataAddress: 2,
  IllegalDataValue: 3,
} as const;

const EXCEPTION_FLAG = 0x80;
const MAX_READ_REGISTERS = 125;
const MAX_READ_BITS = 2000;

/**
 * Register map of a simulated power meter (holding and input registers hold the same live values):
 *   0 voltage L1 ×10 V · 1 current L1 ×100 A · 2 active power W · 3-4 energy ×100 kWh (uint32, high word first)
 *   5 frequency ×100 Hz · 6 power factor ×1000 · 7 temperature ×10 °C (int16) · 8 relay (0/1)
 *   9 voltage L2 ×10 · 10 voltage L3 ×10 · 11..19 free (writable, start at 0)
 * Coil 0 is the relay (writing it switches the load).
 */
export const POWER_METER_REGISTERS = 20;

export interface ModbusUnit {
  readRegisters(start: number, count: number, input: boolean): number[] | undefined;
  writeRegisters(start: number, values: number[]): boolean;
  readBits(start: number, count: number, input: boolean): boolean[] | undefined;
  writeBits(start: number, values: boolean[]): boolean;
}

/** A unit whose registers are a simulated power meter's live readings. */
export class PowerMeterUnit implements ModbusUnit {
  readonly model: MeterModel;
  private readonly scratch = new Array<number>(POWER_METER_REGISTERS).fill(0);

  constructor(clock: Clock = systemClock, seed = 1) {
    this.model = new MeterModel(clock, seed);
  }

  private snapshot(): number[] {
    const r = this.model.read();
    const energy = Math.round(r.energyKwh * 100) >>> 0;
    const regs = [...this.scratch];
    regs[0] = Math.round(r.voltage[0] * 10);
    regs[1] = Math.round(r.current[0] * 100);
    regs[2] = Math.round(r.powerKw * 1000) & 0xffff;
    regs[3] = energy >>> 16;
    regs[4] = energy & 0xffff;
    regs[5] = Math.round(r.frequencyHz * 100);
    regs[6] = Math.round(r.powerFactor * 1000);
    regs[7] = Math.round(r.temperatureC * 10) & 0xffff;
    regs[8] = r.relayOn ? 1 : 0;
    regs[9] = Math.round(r.voltage[1] * 10);
    regs[10] = Math.round(r.voltage[2] * 10);
    return regs;
  }

  readRegisters(start: number, count: number): number[] | undefined {
    if (start + count > POWER_METER_REGISTERS) return undefined;
    return this.snapshot().slice(start, start + count);
  }

  writeRegisters(start: number, values: number[]): boolean {
    if (start + values.length > POWER_METER_REGISTERS) return false;
    values.forEach((v, i) => {
      const reg = start + i;
      if (reg === 8) this.model.setRelay(v !== 0);
      else if (reg >= 11) this.scratch[reg] = v;
    });
    return true;
  }

  readBits(start: number, count: number): boolean[] | undefined {
    if (start + count > 1) return undefined;
    return [this.model.read().relayOn].slice(start, start + count);
  }

  writeBits(start: number, values: boolean[]): boolean {
    if (start + values.length > 1) return false;
    this.model.setRelay(values[0]!);
    return true;
  }
}

/** A unit with a fixed register map (writable), for devices other than the simulated power meter. */
export class StaticUnit implements ModbusUnit {
  private readonly registers: number[];
  private readonly bits: boolean[];

  constructor(registers: readonly number[], bits: readonly boolean[] = []) {
    this.registers = registers.map((r) => r & 0xffff);
    this.bits = [...bits];
  }

  readRegisters(start: number, count: number): number[] | undefined {
    return start + count > this.registers.length ? undefined : this.registers.slice(start, start + count);
  }
  writeRegisters(start: number, values: number[]): boolean {
    if (start + values.length > this.registers.length) return false;
    values.forEach((v, i) => (this.registers[start + i] = v & 0xffff));
    return true;
  }
  readBits(start: number, count: number): boolean[] | undefined {
    return start + count > this.bits.length ? undefined : this.bits.slice(start, start + count);
  }
  writeBits(start: number, values: boolean[]): boolean {
    if (start + values.length > this.bits.length) return false;
    values.forEach((v, i) => (this.bits[start + i] = v));
    return true;
  }
}

export type ModbusUnits = ReadonlyMap<number, ModbusUnit>;

/** Handles one request PDU for `unit`; undefined when the unit does not exist (a real slave stays silent). */
export function handlePdu(units: ModbusUnits, unitId: number, pdu: Uint8Array): Uint8Array | undefined {
  const unit = units.get(unitId);
  if (!unit || pdu.length === 0) return undefined;
  const fn = pdu[0]!;
  const view = new DataView(pdu.buffer, pdu.byteOffset, pdu.byteLength);
  const exception = (code: number) => Uint8Array.of(fn | EXCEPTION_FLAG, code);
  const word = (offset: number) => (offset + 2 <= pdu.length ? view.getUint16(offset) : -1);
  if (!(Object.values(ModbusFunction) as number[]).includes(fn))
    return exception(ModbusException.IllegalFunction);
  const start = word(1);
  const countOrValue = word(3);
  if (start < 0 || countOrValue < 0) return exception(ModbusException.IllegalDataValue);
  switch (fn) {
    case ModbusFunction.ReadHoldingRegisters:
    case ModbusFunction.ReadInputRegisters: {
      if (countOrValue < 1 || countOrValue > MAX_READ_REGISTERS)
        return exception(ModbusException.IllegalDataValue);
      const regs = unit.readRegisters(start, countOrValue, fn === ModbusFunction.ReadInputRegisters);
      if (!regs) return exception(ModbusException.IllegalDataAddress);
      const out = new Uint8Array(2 + regs.length * 2);
      out[0] = fn;
      out[1] = regs.length * 2;
      regs.forEach((r, i) => new DataView(out.buffer).setUint16(2 + i * 2, r & 0xffff));
      return out;
    }
    case ModbusFunction.ReadCoils:
    case ModbusFunction.ReadDiscreteInputs: {
      if (countOrValue < 1 || countOrValue > MAX_READ_BITS)
        return exception(ModbusException.IllegalDataValue);
      const bits = unit.readBits(start, countOrValue, fn === ModbusFunction.ReadDiscreteInputs);
      if (!bits) return exception(ModbusException.IllegalDataAddress);
      const out = new Uint8Array(2 + Math.ceil(bits.length / 8));
      out[0] = fn;
      out[1] = out.length - 2;
      bits.forEach((b, i) => {
        if (b) out[2 + (i >> 3)]! |= 1 << (i & 7);
      });
      return out;
    }
    case ModbusFunction.WriteSingleRegister:
      if (!unit.writeRegisters(start, [countOrValue])) return exception(ModbusException.IllegalDataAddress);
      return pdu.slice(0, 5);
    case ModbusFunction.WriteSingleCoil:
      if (countOrValue !== 0xff00 && countOrValue !== 0) return exception(ModbusException.IllegalDataValue);
      if (!unit.writeBits(start, [countOrValue === 0xff00]))
        return exception(ModbusException.IllegalDataAddress);
      return pdu.slice(0, 5);
    case ModbusFunction.WriteMultipleRegisters: {
      const byteCount = pdu[5] ?? -1;
      if (byteCount !== countOrValue * 2 || pdu.length < 6 + byteCount)
        return exception(ModbusException.IllegalDataValue);
      const values = Array.from({ length: countOrValue }, (_, i) => view.getUint16(6 + i * 2));
      if (!unit.writeRegisters(start, values)) return exception(ModbusException.IllegalDataAddress);
      return pdu.slice(0, 5);
    }
    case ModbusFunction.WriteMultipleCoils: {
      const byteCount = pdu[5] ?? -1;
      if (byteCount !== Math.ceil(countOrValue / 8) || pdu.length < 6 + byteCount)
        return exception(ModbusException.IllegalDataValue);
      const values = Array.from(
        { length: countOrValue },
        (_, i) => ((pdu[6 + (i >> 3)]! >> (i & 7)) & 1) === 1,
      );
      if (!unit.writeBits(start, values)) return exception(ModbusException.IllegalDataAddress);
      return pdu.slice(0, 5);
    }
    default:
      return exception(ModbusException.IllegalFunction);
  }
}

/** Length of a complete RTU request starting at `buf[0]` (unit, PDU, CRC), or the bytes known so far are too few. */
export function rtuRequestLength(buf: Uint8Array): number | undefined {
  if (buf.length < 2) return undefined;
  const fn = buf[1]!;
  if (fn === ModbusFunction.WriteMultipleCoils || fn === ModbusFunction.WriteMultipleRegisters) {
    if (buf.length < 7) return undefined;
    return 7 + buf[6]! + 2;
  }
  return 8; // unit, fn, 4 bytes of address/count/value, CRC
}
