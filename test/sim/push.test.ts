import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { builtinContract } from '../../src/contracts/index.ts';
import { encodeFixed, encodeLpp, FIXED_LENGTH, startPushSensor } from '../../src/sim/push-sensor.ts';
import { waitFor } from '../support/wait.ts';

test('sim push: fixed-layout frame is the ACME TH-10 layout and decodes with its contract', () => {
  const f = encodeFixed(4711, {
    temperatureC: -3.4,
    humidity: 61,
    batteryMv: 3590,
    pressureHpa: 1000,
    counter: 9,
  });
  assert.equal(f.length, FIXED_LENGTH);
  const decoded = builtinContract('acme-th10').decode(f);
  assert.ok(decoded.ok, JSON.stringify(decoded));
  const points = Object.fromEntries(decoded.points.map((p) => [p.name, p.value]));
  assert.equal(points.temperature, -3.4);
  assert.equal(points.humidity, 61);
  assert.equal(points.battery, 3590);
  assert.equal(points.pulses, 9);
  assert.match(String(decoded.fields.device), /1267/i, 'device id 4711 = 0x1267');
  const bad = Uint8Array.from(f);
  bad[20]! ^= 0xff;
  assert.equal(builtinContract('acme-th10').decode(bad).ok, false, 'checksum checked');
});

test('sim push: Cayenne LPP frame decodes with the built-in contract', () => {
  const decoded = builtinContract('cayenne-lpp').decode(
    encodeLpp({ temperatureC: 21.5, humidity: 40, batteryMv: 3600, pressureHpa: 1013.2 }),
  );
  assert.ok(decoded.ok, JSON.stringify(decoded));
  const values = decoded.points.map((p) => p.value);
  assert.ok(values.includes(21.5), JSON.stringify(decoded.points));
  assert.ok(values.includes(40));
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
