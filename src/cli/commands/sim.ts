// `mqiot sim`: device simulators a gateway can be pointed at (Modbus TCP/RTU, DL/T 645, push sensors).
import { createInterface } from 'node:readline';
import { createLogger } from '../../log.ts';
import {
  FAULT_MODES,
  startSimulators,
  type FaultMode,
  type FaultSpec,
  type SimSpec,
  type UnitSpec,
  PushFormat,
} from '../../app/commands/sim.ts';
import { parseCommandArgs } from '../args.ts';
import { CliError } from '../errors.ts';
import { waitForStopSignal } from '../signals.ts';

export const summary = 'device simulators: Modbus TCP/RTU, DL/T 645 meters (serial or TCP), push sensors';

const HELP = `usage: mqiot sim [options]

Starts simulated devices whose readings change over time (energy grows, voltage wanders around 230 V,
temperature follows the day). Stop with Ctrl-C.

options:
  --modbus-tcp PORT          Modbus TCP server on PORT (0 = any free port)
  --modbus-rtu TTY           Modbus RTU slave on serial line TTY (e.g. /dev/ttyUSB0 or a socat pty)
  --units LIST               Modbus unit ids (live power meters), comma-separated (default 1,2)
  --static-unit ID=R0,R1,..  an extra Modbus unit with fixed (writable) registers (repeatable)
  --dlt645-tcp PORT          DL/T 645-2007 meters on a TCP port
  --dlt645-serial TTY        DL/T 645-2007 meters on serial line TTY (with --dlt645-tcp too: both buses)
  --meters LIST              DL/T 645 meter addresses, 12 digits each, comma-separated (default 000000000161)
  --baud N                   serial baud rate (default 9600)
  --push URL                 push sensor sending to udp://HOST:PORT or tcp://HOST:PORT (repeatable)
  --push-format FORMAT       cayenne-lpp or fixed (default cayenne-lpp)
  --interval MS              push interval (default 5000)
  --host HOST                listen address for TCP servers (default 127.0.0.1)
  --fault MODE               ${FAULT_MODES.join(', ')} (default none)
  --fault-count N            apply the fault to the next N answers only
  --fault-delay MS           delay of a late answer (default 3000)
  -h, --help                 show this help

While running, a line on standard input changes the fault of every simulator:
  fault MODE [COUNT] [DELAY_MS]     e.g. 'fault bad-checksum 3', 'fault late 1 5000', 'fault none'`;

const OPTIONS = {
  'modbus-tcp': { type: 'string' },
  'modbus-rtu': { type: 'string' },
  units: { type: 'string' },
  'static-unit': { type: 'string', multiple: true },
  'dlt645-tcp': { type: 'string' },
  'dlt645-serial': { type: 'string' },
  meters: { type: 'string' },
  baud: { type: 'string' },
  push: { type: 'string', multiple: true },
  'push-format': { type: 'string' },
  interval: { type: 'string' },
  host: { type: 'string' },
  fault: { type: 'string' },
  'fault-count': { type: 'string' },
  'fault-delay': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function int(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max)
    throw new CliError(`sim: --${flag} expects a whole number ${min}..${max}, got '${value}'`);
  return n;
}

export function parseSimArgs(argv: string[]): SimSpec | 'help' {
  const { values } = parseCommandArgs('sim', argv, OPTIONS);
  if (values.help) return 'help';
  const spec: SimSpec = {};
  const host = values.host ?? '127.0.0.1';
  const baudRate = int('baud', values.baud, 50, 4_000_000);
  const units: UnitSpec[] = (values.units ?? '1,2').split(',').map((u) => int('units', u.trim(), 1, 247)!);
  for (const spec of values['static-unit'] ?? []) {
    const m = /^(\d+)=([\d,\s]+)$/.exec(spec);
    if (!m) throw new CliError(`sim: --static-unit expects ID=R0,R1,..., got '${spec}'`);
    const registers = m[2]!.split(',').map((r) => int('static-unit', r.trim(), 0, 65535)!);
    units.push({ id: int('static-unit', m[1], 1, 247)!, registers });
  }
  const addresses = (values.meters ?? '000000000161').split(',').map((a) => a.trim());
  for (const a of addresses)
    if (!/^\d{12}$/.test(a)) throw new CliError(`sim: --meters expects 12-digit addresses, got '${a}'`);
  const tcpPort = int('modbus-tcp', values['modbus-tcp'], 0, 65535);
  if (tcpPort !== undefined) spec.modbusTcp = { host, port: tcpPort, units };
  if (values['modbus-rtu']) spec.modbusRtu = { path: values['modbus-rtu'], baudRate, units };
  const dltPort = int('dlt645-tcp', values['dlt645-tcp'], 0, 65535);
  if (dltPort !== undefined) spec.dlt645 = { transport: 'tcp', host, port: dltPort, addresses };
  // both at once: two buses, each with its own meters of the same addresses (as two sites would be)
  if (values['dlt645-serial']) spec.dlt645Serial = { path: values['dlt645-serial'], baudRate, addresses };
  const format = values['push-format'] ?? 'cayenne-lpp';
  if (!(Object.values(PushFormat) as string[]).includes(format))
    throw new CliError(`sim: --push-format expects cayenne-lpp or fixed, got '${format}'`);
  const intervalMs = int('interval', values.interval, 10, 86_400_000) ?? 5000;
  spec.push = (values.push ?? []).map((url, i) => {
    const m = /^(udp|tcp):\/\/([^:/]+):(\d+)$/.exec(url);
    if (!m) throw new CliError(`sim: --push expects udp://HOST:PORT or tcp://HOST:PORT, got '${url}'`);
    return {
      sensorId: 1001 + i,
      format: format as PushFormat,
      transport: m[1] as 'udp' | 'tcp',
      host: m[2]!,
      port: Number(m[3]),
      intervalMs,
    };
  });
  if (values.fault !== undefined) {
    if (!(FAULT_MODES as readonly string[]).includes(values.fault))
      throw new CliError(`sim: --fault expects one of ${FAULT_MODES.join(', ')}, got '${values.fault}'`);
    spec.fault = {
      mode: values.fault as FaultMode,
      count: int('fault-count', values['fault-count'], 1, Number.MAX_SAFE_INTEGER),
      delayMs: int('fault-delay', values['fault-delay'], 0, 600_000),
    };
  }
  if (!spec.modbusTcp && !spec.modbusRtu && !spec.dlt645 && !spec.dlt645Serial && spec.push.length === 0)
    throw new CliError(
      'sim: nothing to simulate; give --modbus-tcp, --modbus-rtu, --dlt645-tcp, --dlt645-serial or --push',
    );
  return spec;
}

/** `fault MODE [COUNT] [DELAY_MS]` → the fault, an error text, or undefined for an empty line. */
export function parseFaultLine(line: string): FaultSpec | string | undefined {
  const words = line.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return undefined;
  const [cmd, mode, count, delay] = words;
  if (cmd !== 'fault' || !(FAULT_MODES as readonly string[]).includes(mode ?? ''))
    return `expected 'fault MODE [COUNT] [DELAY_MS]' with MODE one of ${FAULT_MODES.join(', ')}`;
  const n = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);
  return { mode: mode as FaultMode, count: n(count), delayMs: n(delay) };
}

export async function run(argv: string[]): Promise<number> {
  const stopSignal = waitForStopSignal();
  const spec = parseSimArgs(argv);
  if (spec === 'help') {
    console.log(HELP);
    return 0;
  }
  const log = createLogger({ name: 'mqiot-sim' });
  const sims = await startSimulators(spec).catch((err: unknown) => {
    throw new CliError(`sim: ${(err as Error).message}`, 1, { cause: err });
  });
  if (sims.modbusTcp)
    log.info({ port: sims.modbusTcp.port, units: [...sims.modbusTcp.units.keys()] }, 'modbus tcp server');
  if (sims.modbusRtu)
    log.info({ path: spec.modbusRtu?.path, units: [...sims.modbusRtu.units.keys()] }, 'modbus rtu slave');
  if (sims.dlt645)
    log.info(
      { port: sims.dlt645.port, addresses: sims.dlt645.meters.map((m) => m.address) },
      'dl/t 645 meters',
    );
  if (sims.dlt645Serial)
    log.info(
      { path: spec.dlt645Serial?.path, addresses: sims.dlt645Serial.meters.map((m) => m.address) },
      'dl/t 645 meters on serial',
    );
  for (const p of spec.push ?? []) log.info(p, 'push sensor');
  // a line tools can parse to find the ports chosen (port 0)
  console.log(
    JSON.stringify({ ready: true, modbusTcpPort: sims.modbusTcp?.port, dlt645Port: sims.dlt645?.port }),
  );
  const input = createInterface({ input: process.stdin, terminal: false });
  input.on('line', (line: string) => {
    const fault = parseFaultLine(line);
    if (fault === undefined) return;
    if (typeof fault === 'string') return log.warn(fault);
    sims.setFault(fault);
    log.info(fault, 'fault set');
  });
  await stopSignal;
  input.close();
  await sims.close();
  return 0;
}
