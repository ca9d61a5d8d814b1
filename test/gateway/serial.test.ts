// Serial links over socat pty pairs: a Modbus RTU bus (two units) and a DL/T 645 bus (two meters),
// polled by the gateway through our broker; plus devices that push over UDP and TCP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinContract } from '../../src/contracts/index.ts';
import { parseGatewayConfig } from '../../src/gateway/config.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { startSimulators } from '../../src/sim/index.ts';
import { startPushSensor } from '../../src/sim/push-sensor.ts';
import { ptyPair } from '../sim/helpers.ts';
import { FakePlatform } from './helpers.ts';
import { startOurBroker } from '../support/broker.ts';
import { makeTempDir } from '../support/temp.ts';
import { waitFor } from '../support/wait.ts';

test('gateway over serial (socat ptys): Modbus RTU and DL/T 645 buses, relay command, error frames, retries', async (t) => {
  const rtuPty = await ptyPair();
  const dltPty = await ptyPair();
  const broker = await startOurBroker();
  const sims = await startSimulators({
    modbusRtu: { path: rtuPty.a, units: [1, 2] },
    dlt645: {
      transport: 'serial',
      path: dltPty.a,
      baudRate: 2400,
      addresses: ['000000000161', '000000000162'],
    },
  });
  const tmp = makeTempDir();
  const platform = new FakePlatform(broker.url, 'gw-serial', { heartbeatMs: 500 });
  await platform.start();
  const gw = new Gateway(
    parseGatewayConfig({
      gateway: { id: 'gw-serial' },
      mqtt: { urls: [broker.url], reconnectMs: 100 },
      batching: { windowMs: 300 },
      queue: { path: `${tmp.dir}/q.db` },
      devices: [
        ...[1, 2].map((unit) => ({
          id: `rtu-${unit}`,
          contract: 'modbus-rtu',
          transport: { type: 'serial', path: rtuPty.b },
          params: { unit },
          poll: [
            {
              message: 'read-holding-registers',
              params: { start: 0, count: 11 },
              everyMs: 200,
              timeoutMs: 500,
            },
          ],
        })),
        ...['000000000161', '000000000162'].map((address) => ({
          id: `meter-${address.slice(-3)}`,
          contract: 'dlt645-2007',
          transport: { type: 'serial', path: dltPty.b, baudRate: 2400 },
          params: { address },
          commandTimeoutMs: 1000,
          poll: [
            { name: 'voltage', message: 'read', params: { di: '02010100' }, everyMs: 300, timeoutMs: 800 },
            { name: 'energy', message: 'read', params: { di: '00010000' }, everyMs: 300, timeoutMs: 800 },
          ],
        })),
      ],
    }),
  );
  await gw.start();
  t.after(async () => {
    await gw.stop();
    await platform.stop();
    await sims.close();
    await broker.stop();
    await rtuPty.close();
    await dltPty.close();
    tmp.cleanup();
  });

  await t.test(
    'frames of all four serial devices arrive in data groups and decode with their contracts',
    async () => {
      const devs = ['rtu-1', 'rtu-2', 'meter-161', 'meter-162'];
      const seen = (match: (f: { dev: string; ctx?: Record<string, unknown> }) => boolean) =>
        platform.of('data').some((g) => g.frames.some(match));
      await waitFor(
        "frames from every device, and meter-162's voltage",
        () =>
          devs.every((d) => seen((f) => f.dev === d)) &&
          seen((f) => f.dev === 'meter-162' && f.ctx?.di === '02010100'),
        15_000,
      );
      const frames = platform.of('data').flatMap((g) => g.frames);
      const rtu = frames.find((f) => f.dev === 'rtu-2')!;
      const decodedRtu = builtinContract('modbus-rtu').decode(rtu.raw, rtu.ctx);
      assert.ok(decodedRtu.ok, JSON.stringify(decodedRtu));
      assert.equal(decodedRtu.fields.unit, 2);
      const voltage = frames.find((f) => f.dev === 'meter-162' && f.ctx?.di === '02010100')!;
      const decoded = builtinContract('dlt645-2007').decode(voltage.raw);
      assert.ok(decoded.ok, Buffer.from(voltage.raw).toString('hex') + JSON.stringify(decoded));
      assert.equal(decoded.fields.address, '000000000162');
      const v = decoded.points.find((p) => p.name === 'voltage_a')!.value as number;
      assert.ok(v > 200 && v < 260, `voltage ${v}`);
      await waitFor('a group holding frames of three or more devices', () =>
        platform.of('data').some((g) => new Set(g.frames.map((f) => f.dev)).size >= 3),
      );
    },
  );

  await t.test('relay command over DL/T 645 switches the meter off, once', async () => {
    const meter = sims.dlt645!.meters.find((m) => m.address === '000000000161')!;
    platform.send({
      v: 1,
      k: 'cmd',
      gw: 'gw-serial',
      ts: Date.now(),
      id: 'trip-161',
      dev: 'meter-161',
      action: 'relay',
      params: { action: 'trip' },
    });
    const r = await waitFor(
      'relay result',
      () => platform.of('cmd-result').find((m) => m.id === 'trip-161'),
      10_000,
    );
    assert.equal(r.ok, true, String(r.error));
    assert.equal(meter.model.read().relayOn, false);
  });

  await t.test('an unknown data identifier comes back as the meter error frame', async () => {
    platform.send({
      v: 1,
      k: 'cmd',
      gw: 'gw-serial',
      ts: Date.now(),
      id: 'read-unknown',
      dev: 'meter-162',
      action: 'read',
      params: { di: '99999999' },
    });
    const r = await waitFor(
      'result',
      () => platform.of('cmd-result').find((m) => m.id === 'read-unknown'),
      10_000,
    );
    assert.equal(r.ok, false);
    assert.match(r.error!, /no-data/);
  });

  await t.test('a corrupted checksum is retried; no bad frame is forwarded', async () => {
    sims.modbusRtu!.faults.set({ mode: 'bad-checksum', count: 2 });
    const before = platform.of('data').length;
    await waitFor(
      'fault consumed and more data',
      () => sims.modbusRtu!.faults.current().mode === 'none' && platform.of('data').length > before + 3,
      10_000,
    );
    for (const f of platform
      .of('data')
      .flatMap((g) => g.frames)
      .filter((f) => f.c === 'modbus-rtu'))
      assert.ok(
        builtinContract('modbus-rtu').decode(f.raw, f.ctx).ok,
        'every forwarded RTU frame passes its CRC',
      );
  });
});

test('gateway push devices: UDP (Cayenne LPP) and TCP (ACME TH-10) sensors', async (t) => {
  const broker = await startOurBroker();
  const tmp = makeTempDir();
  const platform = new FakePlatform(broker.url, 'gw-push', { heartbeatMs: 500 });
  await platform.start();
  const gw = new Gateway(
    parseGatewayConfig({
      gateway: { id: 'gw-push' },
      mqtt: { urls: [broker.url], reconnectMs: 100 },
      batching: { windowMs: 100 },
      queue: { path: `${tmp.dir}/q.db` },
      devices: [
        {
          id: 'lpp-1',
          contract: 'cayenne-lpp',
          transport: { type: 'udp-listen', host: '127.0.0.1', port: 0 },
        },
        { id: 'th-1', contract: 'acme-th10', transport: { type: 'tcp-listen', host: '127.0.0.1', port: 0 } },
      ],
    }),
  );
  await gw.start();
  const sensors = [
    startPushSensor({
      sensorId: 1,
      format: 'cayenne-lpp',
      transport: 'udp',
      host: '127.0.0.1',
      port: gw.listenerPorts.get('lpp-1')!,
      intervalMs: 50,
    }),
    startPushSensor({
      sensorId: 2,
      format: 'fixed',
      transport: 'tcp',
      host: '127.0.0.1',
      port: gw.listenerPorts.get('th-1')!,
      intervalMs: 50,
    }),
  ];
  t.after(async () => {
    await Promise.all(sensors.map((s) => s.close()));
    await gw.stop();
    await platform.stop();
    await broker.stop();
    tmp.cleanup();
  });
  const frames = () => platform.of('data').flatMap((g) => g.frames);
  await waitFor(
    'frames from both sensors',
    () => ['lpp-1', 'th-1'].every((d) => frames().some((f) => f.dev === d)),
    10_000,
  );
  for (const f of frames()) {
    const decoded = builtinContract(f.c).decode(f.raw);
    assert.ok(decoded.ok, `${f.dev}: ${JSON.stringify(decoded)}`);
  }
  const th = frames().filter((f) => f.dev === 'th-1');
  assert.deepEqual(
    th.map((f) => f.seq),
    th.map((_, i) => i),
    'one frame per push, counted per device',
  );
});
