import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { crc16Modbus } from '../../src/sim/checksum.ts';
import { MeterModel } from '../../src/sim/model.ts';
import { modbusRtuDevice, serveModbusRtu } from '../../src/sim/modbus/rtu-slave.ts';
import { handlePdu, PowerMeterUnit } from '../../src/sim/modbus/slave.ts';
import { startModbusTcpServer } from '../../src/sim/modbus/tcp-server.ts';
import { startSimulators } from '../../src/sim/index.ts';
import { openSerial, closeSerial } from '../../src/sim/serial.ts';
import { hex, ptyPair } from './helpers.ts';

const fakeClock = (start = 0) => {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};

test('sim model: energy only grows, voltage stays near 230 V over a simulated week', () => {
  const clock = fakeClock(Date.UTC(2026, 0, 1));
  const model = new MeterModel(clock, 42);
  let last = model.read().energyKwh;
  for (let i = 0; i < 7 * 24 * 6; i++) {
    clock.advance(600_000);
    const r = model.read();
    assert.ok(r.energyKwh >= last, 'energy never decreases');
    assert.ok(
      r.voltage.every((v) => v >= 207 && v <= 253),
      `voltage ${r.voltage} within ±10 %`,
    );
    last = r.energyKwh;
  }
  assert.ok(last > 1000, 'energy grew');
});

test('sim model: temperature follows a day cycle (afternoon warmer than early morning)', () => {
  const day = Date.UTC(2026, 0, 1);
  const at = (hour: number) => {
    const clock = fakeClock(day + hour * 3_600_000);
    return new MeterModel(clock, 1).read().temperatureC;
  };
  assert.ok(at(15) > at(3) + 5);
});

test('sim modbus: RTU slave answers the published read request vector with a valid CRC', () => {
  const units = new Map([[1, new PowerMeterUnit()]]);
  const device = modbusRtuDevice(units);
  const req = hex('01 03 00 00 00 0A C5 CD');
  const cut = device.extract(req);
  assert.ok('frame' in cut);
  const answer = Buffer.from(device.answer(cut.frame)!);
  assert.equal(answer.length, 3 + 20 + 2);
  assert.deepEqual([...answer.subarray(0, 3)], [1, 3, 20]);
  const crc = crc16Modbus(answer, answer.length - 2);
  assert.deepEqual([...answer.subarray(-2)], [crc & 0xff, crc >> 8]);
  const voltage = answer.readUInt16BE(3) / 10;
  assert.ok(voltage > 200 && voltage < 260, `voltage ${voltage}`);
});

test('sim modbus: exceptions for a bad address and an unknown function; silence for another unit', () => {
  const units = new Map([[1, new PowerMeterUnit()]]);
  assert.deepEqual([...handlePdu(units, 1, hex('03 00 63 00 02'))!], [0x83, 2]);
  assert.deepEqual([...handlePdu(units, 1, hex('2b 0e 01 00'))!], [0xab, 1]);
  assert.equal(handlePdu(units, 9, hex('03 00 00 00 01')), undefined);
});

test('sim modbus: writing register 8 / coil 0 switches the relay and the load', () => {
  const unit = new PowerMeterUnit();
  const units = new Map([[1, unit]]);
  assert.deepEqual([...handlePdu(units, 1, hex('05 00 00 00 00'))!], [5, 0, 0, 0, 0]);
  assert.equal(unit.model.read().relayOn, false);
  assert.deepEqual([...handlePdu(units, 1, hex('03 00 08 00 01'))!], [3, 2, 0, 0]);
  handlePdu(units, 1, hex('06 00 08 00 01'));
  assert.equal(unit.model.read().relayOn, true);
});

/** Writes `requests` on one connection and resolves with the first data that comes back. */
async function firstAnswer(port: number, requests: Buffer[]): Promise<Buffer> {
  const socket = net.connect(port, '127.0.0.1');
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      socket.once('data', resolve);
      socket.once('close', () => reject(new Error('closed without an answer')));
      for (const r of requests) socket.write(r);
    });
  } finally {
    socket.destroy();
  }
}

// timeoutMs bounds a wait for an answer that should come (a busy machine can be slow), not a sleep:
// an expected silence ends with the server closing the connection
async function tcpExchange(port: number, request: Buffer, timeoutMs = 20_000): Promise<Buffer | undefined> {
  const socket = net.connect(port, '127.0.0.1');
  try {
    return await new Promise<Buffer | undefined>((resolve) => {
      const t = setTimeout(() => resolve(undefined), timeoutMs);
      socket.once('data', (d: Buffer) => {
        clearTimeout(t);
        resolve(d);
      });
      socket.once('close', () => {
        clearTimeout(t);
        resolve(undefined);
      });
      socket.write(request);
    });
  } finally {
    socket.destroy();
  }
}

test('sim modbus: TCP server answers with the request transaction id; faults on demand', async () => {
  const server = await startModbusTcpServer(new Map([[1, new PowerMeterUnit()]]));
  try {
    const answer = await tcpExchange(server.port, hex('00 01 00 00 00 06 01 03 00 03 00 02'));
    assert.deepEqual([...answer!.subarray(0, 9)], [0, 1, 0, 0, 0, 7, 1, 3, 4]);
    server.faults.set({ mode: 'no-answer', count: 1 });
    // On one connection answers come in order: the first answer is for the request after the lost one.
    const next = await firstAnswer(server.port, [
      hex('00 02 00 00 00 06 01 03 00 03 00 02'),
      hex('00 12 00 00 00 06 01 03 00 03 00 02'),
    ]);
    assert.equal(next.readUInt16BE(0), 0x12, 'no answer to the request while the fault lasts');
    server.faults.set({ mode: 'disconnect', count: 1 });
    assert.equal(await tcpExchange(server.port, hex('00 03 00 00 00 06 01 03 00 03 00 02')), undefined);
    server.faults.set({ mode: 'late', count: 1, delayMs: 300 });
    const started = Date.now();
    assert.ok(await tcpExchange(server.port, hex('00 04 00 00 00 06 01 03 00 03 00 02')));
    assert.ok(Date.now() - started >= 250);
    assert.ok(await tcpExchange(server.port, hex('00 05 00 00 00 06 01 03 00 03 00 02')), 'normal again');
  } finally {
    await server.close();
  }
});

test('sim modbus: RTU slave over a socat pty pair, two units, corrupted CRC on demand', async () => {
  const pty = await ptyPair();
  const slavePort = await openSerial(pty.a);
  const master = await openSerial(pty.b);
  const slave = serveModbusRtu(
    slavePort,
    new Map([
      [1, new PowerMeterUnit()],
      [2, new PowerMeterUnit()],
    ]),
  );
  const ask = (req: Buffer) =>
    new Promise<Buffer>((resolve) => {
      let buf = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length < 9) return;
        master.off('data', onData);
        resolve(buf);
      };
      master.on('data', onData);
      master.write(req);
    });
  try {
    const r2 = await ask(hex('02 04 00 00 00 02 71 F8'));
    assert.equal(r2[0], 2);
    assert.equal(r2.length, 9);
    slave.faults.set({ mode: 'bad-checksum', count: 1 });
    const bad = await ask(hex('01 03 00 00 00 02 C4 0B'));
    assert.notEqual(bad.readUInt16LE(7), crc16Modbus(bad, 7));
    assert.equal(slave.requests, 2);
  } finally {
    slave.stop();
    await closeSerial(master);
    await closeSerial(slavePort);
    await pty.close();
  }
});

test('sim modbus: a static unit serves its fixed register map next to live meters; CLI flags parse', async () => {
  const { parseSimArgs } = await import('../../src/cli/commands/sim.ts');
  const spec = parseSimArgs(['--modbus-tcp', '0', '--units', '1', '--static-unit', '7=10,20,30']);
  assert.ok(spec !== 'help');
  const sims = await startSimulators(spec);
  try {
    const answer = await tcpExchange(sims.modbusTcp!.port, hex('00 09 00 00 00 06 07 03 00 01 00 02'));
    assert.deepEqual([...answer!], [0, 9, 0, 0, 0, 7, 7, 3, 4, 0, 20, 0, 30]);
    const beyond = await tcpExchange(sims.modbusTcp!.port, hex('00 0a 00 00 00 06 07 03 00 02 00 02'));
    assert.deepEqual([...beyond!.subarray(7)], [0x83, 2], 'illegal data address past the map');
  } finally {
    await sims.close();
  }
  assert.throws(() => parseSimArgs(['--static-unit', '7:1,2']), /--static-unit expects/);
  assert.throws(() => parseSimArgs([]), /nothing to simulate/);
});
