import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { crc16Modbus } from '../../src/sim/checksum.ts';
import { encodeFixed, FIXED_LENGTH, startPushSensor } from '../../src/sim/push-sensor.ts';
import { waitFor } from './helpers.ts';

test('sim push: fixed-layout frame carries id, counter, temperature and a valid CRC', () => {
  const f = Buffer.from(
    encodeFixed(4711, { temperatureC: -3.4, humidity: 61, batteryMv: 3590, pressureHpa: 1000, counter: 9 }),
  );
  assert.equal(f.length, FIXED_LENGTH);
  assert.deepEqual([...f.subarray(0, 3)], [0xa5, 0x5a, 1]);
  assert.equal(f.readUInt32BE(3), 4711);
  assert.equal(f.readUInt16BE(7), 9);
  assert.equal(f.readInt16BE(9), -34);
  assert.equal(f.readUInt16LE(14), crc16Modbus(f, 14));
});

test('sim push: sensor sends Cayenne LPP frames over UDP on its timer', async () => {
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const frames: Buffer[] = [];
  udp.on('message', (m) => frames.push(m));
  const sensor = startPushSensor({
    sensorId: 1,
    format: 'cayenne-lpp',
    transport: 'udp',
    host: '127.0.0.1',
    port: udp.address().port,
    intervalMs: 30,
  });
  try {
    await waitFor('3 frames', () => frames.length >= 3);
    const f = frames[0]!;
    assert.deepEqual([f[0], f[1]], [1, 0x67]);
    const t = f.readInt16BE(2) / 10;
    assert.ok(t > 5 && t < 35, `temperature ${t}`);
  } finally {
    await sensor.close();
    udp.close();
  }
});

test('sim push: TCP sensor reconnects after a disconnect fault', async () => {
  let connections = 0;
  const received: Buffer[] = [];
  const server = net.createServer((s) => {
    connections++;
    s.on('data', (d: Buffer) => received.push(d));
    s.on('error', () => s.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const sensor = startPushSensor({
    sensorId: 2,
    format: 'fixed',
    transport: 'tcp',
    host: '127.0.0.1',
    port: (server.address() as net.AddressInfo).port,
    intervalMs: 30,
  });
  try {
    await waitFor('first frame', () => received.length >= 1);
    sensor.faults.set({ mode: 'disconnect', count: 1 });
    await waitFor('second connection with data', () => connections >= 2 && received.length >= 3);
  } finally {
    await sensor.close();
    server.close();
  }
});
