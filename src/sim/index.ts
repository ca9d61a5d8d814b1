// Starts a set of simulated devices from one description (used by `mqiot sim`, the demo and the tests).
import type { SerialPort } from 'serialport';
import { Dlt645Meter } from './dlt645/meter.ts';
import { serveDlt645Stream, startDlt645TcpServer, type Dlt645Link } from './dlt645/link.ts';
import { FaultInjector, type FaultSpec } from './faults.ts';
import { systemClock, type Clock } from './model.ts';
import { serveModbusRtu, type StreamSlave } from './modbus/rtu-slave.ts';
import { PowerMeterUnit, StaticUnit, type ModbusUnit } from './modbus/slave.ts';
import { startModbusTcpServer, type ModbusTcpServer } from './modbus/tcp-server.ts';
import { startPushSensor, type PushFormat, type PushSensor } from './push-sensor.ts';
import { closeSerial, openSerial } from './serial.ts';

export { FaultInjector, FAULT_MODES, type FaultMode, type FaultSpec } from './faults.ts';
export { Dlt645Meter } from './dlt645/meter.ts';
export { PowerMeterUnit, StaticUnit } from './modbus/slave.ts';

/** A unit id (a live power meter) or a unit with a fixed register map. */
export type UnitSpec = number | { id: number; registers: number[]; coils?: boolean[] };

export interface SimSpec {
  modbusTcp?: { host?: string; port?: number; units: UnitSpec[] };
  modbusRtu?: { path: string; baudRate?: number; units: UnitSpec[] };
  dlt645?:
    | { transport: 'serial'; path: string; baudRate?: number; addresses: string[]; password?: string }
    | { transport: 'tcp'; host?: string; port?: number; addresses: string[]; password?: string };
  /** A second DL/T 645 bus on a serial line, beside TCP meters in `dlt645` (its own meters). */
  dlt645Serial?: { path: string; baudRate?: number; addresses: string[]; password?: string };
  push?: {
    sensorId: number;
    format: PushFormat;
    transport: 'udp' | 'tcp';
    host: string;
    port: number;
    intervalMs: number;
  }[];
  /** Fault applied to every simulator at start. */
  fault?: FaultSpec;
}

export interface Simulators {
  modbusTcp?: ModbusTcpServer & { units: Map<number, ModbusUnit> };
  modbusRtu?: StreamSlave & { units: Map<number, ModbusUnit> };
  dlt645?: Dlt645Link & { meters: Dlt645Meter[] };
  dlt645Serial?: Dlt645Link & { meters: Dlt645Meter[] };
  push: PushSensor[];
  /** Sets the fault of every simulator. */
  setFault(spec: FaultSpec): void;
  close(): Promise<void>;
}

function units(specs: UnitSpec[], clock: Clock): Map<number, ModbusUnit> {
  return new Map(
    specs.map((u): [number, ModbusUnit] =>
      typeof u === 'number'
        ? [u, new PowerMeterUnit(clock, u)]
        : [u.id, new StaticUnit(u.registers, u.coils)],
    ),
  );
}

export async function startSimulators(spec: SimSpec, clock: Clock = systemClock): Promise<Simulators> {
  const ports: SerialPort[] = [];
  const sims: Simulators = {
    push: [],
    setFault(fault) {
      for (const f of [
        sims.modbusTcp?.faults,
        sims.modbusRtu?.faults,
        sims.dlt645?.faults,
        sims.dlt645Serial?.faults,
        ...sims.push.map((p) => p.faults),
      ])
        f?.set(fault);
    },
    async close() {
      await sims.modbusTcp?.close();
      sims.modbusRtu?.stop();
      await sims.dlt645?.close();
      await sims.dlt645Serial?.close();
      await Promise.all(sims.push.map((p) => p.close()));
      await Promise.all(ports.map(closeSerial));
    },
  };
  try {
    if (spec.modbusTcp) {
      const map = units(spec.modbusTcp.units, clock);
      sims.modbusTcp = Object.assign(await startModbusTcpServer(map, spec.modbusTcp), { units: map });
    }
    if (spec.modbusRtu) {
      const port = await openSerial(spec.modbusRtu.path, spec.modbusRtu.baudRate);
      ports.push(port);
      const map = units(spec.modbusRtu.units, clock);
      sims.modbusRtu = Object.assign(serveModbusRtu(port, map), { units: map });
    }
    if (spec.dlt645) {
      const d = spec.dlt645;
      const meters = d.addresses.map((a, i) => new Dlt645Meter(a, clock, 100 + i, d.password));
      if (d.transport === 'serial') {
        const port = await openSerial(d.path, d.baudRate);
        ports.push(port);
        sims.dlt645 = Object.assign(serveDlt645Stream(port, meters), { meters });
      } else {
        sims.dlt645 = Object.assign(await startDlt645TcpServer(meters, d), { meters });
      }
    }
    if (spec.dlt645Serial) {
      const d = spec.dlt645Serial;
      const meters = d.addresses.map((a, i) => new Dlt645Meter(a, clock, 200 + i, d.password));
      const port = await openSerial(d.path, d.baudRate);
      ports.push(port);
      sims.dlt645Serial = Object.assign(serveDlt645Stream(port, meters), { meters });
    }
    for (const p of spec.push ?? [])
      sims.push.push(startPushSensor({ ...p, faults: new FaultInjector(), clock }));
    if (spec.fault) sims.setFault(spec.fault);
  } catch (err) {
    await sims.close();
    throw err;
  }
  return sims;
}
