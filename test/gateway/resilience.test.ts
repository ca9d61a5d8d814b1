// The gateway under faults: restart with a full disk queue, a dead first broker, misbehaving devices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGatewayConfig } from '../../src/gateway/config.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { startSimulators } from '../../src/sim/index.ts';
import { FakePlatform } from './helpers.ts';
import { startOurBroker } from '../support/broker.ts';
import { freePort } from '../support/ports.ts';
import { makeTempDir } from '../support/temp.ts';
import { waitFor } from '../support/wait.ts';

function config(
  id: string,
  urls: string[],
  queuePath: string,
  modbusPort: number,
  extra: Record<string, unknown> = {},
) {
  return parseGatewayConfig({
    gateway: { id },
    mqtt: { urls, reconnectMs: 100 },
    batching: { windowMs: 50 },
    queue: { path: queuePath },
    devices: [
      {
        id: 'pm-1',
        contract: 'modbus-tcp',
        transport: { type: 'tcp', host: '127.0.0.1', port: modbusPort },
        params: { unit: 1 },
        poll: [
          { message: 'read-holding-registers', params: { start: 0, count: 2 }, everyMs: 50, timeoutMs: 300 },
        ],
      },
    ],
    ...extra,
  });
}

test('restart: what was queued offline survives the process, keeps its seq and epoch, and is delivered', async () => {
  const sims = await startSimulators({ modbusTcp: { units: [1] } });
  const tmp = makeTempDir();
  const deadUrl = `mqtt://127.0.0.1:${await freePort()}`;
  const first = new Gateway(config('gw-restart', [deadUrl], `${tmp.dir}/q.db`, sims.modbusTcp!.port));
  await first.start();
  await waitFor('queued while offline', () => first.queueDepth >= 5);
  const epoch = first.epoch;
  await first.stop();
  const queued = first.queueDepth;
  assert.ok(queued >= 5, 'nothing was lost on stop');
  const broker = await startOurBroker();
  const platform = new FakePlatform(broker.url, 'gw-restart', { heartbeatMs: 200 });
  await platform.start();
  const second = new Gateway(config('gw-restart', [broker.url], `${tmp.dir}/q.db`, sims.modbusTcp!.port));
  try {
    await second.start();
    assert.equal(second.epoch, epoch, 'same sequence counter');
    const birth = await waitFor('birth', () => platform.of('birth')[0]);
    assert.equal(birth.epoch, epoch);
    await waitFor('the old queue delivered', () => platform.of('data').length >= queued);
    const seqs = platform.of('data').map((d) => d.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      'in order',
    );
    assert.ok(seqs[0]! < birth.seq, 'queued messages kept the seq they had before the restart');
    const firstFrames = platform.of('data').flatMap((d) => d.frames.filter((f) => f.dev === 'pm-1'));
    assert.equal(firstFrames[0]!.seq, 0, 'from the first frame of the first run');
  } finally {
    await second.stop();
    await platform.stop();
    await broker.stop();
    await sims.close();
    tmp.cleanup();
  }
});

test('failover: the first broker URL is dead, the gateway connects to the next one', async () => {
  const sims = await startSimulators({ modbusTcp: { units: [1] } });
  const tmp = makeTempDir();
  const broker = await startOurBroker();
  const platform = new FakePlatform(broker.url, 'gw-failover', { heartbeatMs: 200 });
  await platform.start();
  const deadUrl = `mqtt://127.0.0.1:${await freePort()}`;
  const gw = new Gateway(
    config('gw-failover', [deadUrl, broker.url], `${tmp.dir}/q.db`, sims.modbusTcp!.port),
  );
  try {
    await gw.start();
    await waitFor('data through the second broker', () => platform.of('data').length > 0, 15_000);
  } finally {
    await gw.stop();
    await platform.stop();
    await broker.stop();
    await sims.close();
    tmp.cleanup();
  }
});

test('device faults: no answer, late answer and disconnection are retried; polling carries on', async () => {
  const sims = await startSimulators({ modbusTcp: { units: [1] } });
  const tmp = makeTempDir();
  const broker = await startOurBroker();
  const platform = new FakePlatform(broker.url, 'gw-faults', { heartbeatMs: 200 });
  await platform.start();
  const gw = new Gateway(config('gw-faults', [broker.url], `${tmp.dir}/q.db`, sims.modbusTcp!.port));
  const frames = () => platform.of('data').flatMap((d) => d.frames).length;
  const faults = sims.modbusTcp!.faults;
  try {
    await gw.start();
    await waitFor('data', () => frames() > 0);
    for (const fault of [
      { mode: 'no-answer', count: 2 },
      { mode: 'late', count: 2, delayMs: 400 }, // later than the 300 ms timeout: a stale answer to ignore
      { mode: 'disconnect', count: 1 },
    ] as const) {
      faults.set(fault);
      await waitFor(`${fault.mode} consumed`, () => faults.current().mode === 'none', 10_000);
      const after = frames();
      await waitFor(`polling carries on after ${fault.mode}`, () => frames() > after + 3, 10_000);
    }
    const status = gw.status();
    assert.equal(status.complete, true, String(status.error));
    // stale (late) answers never replace the answer to a newer request: every frame is a full response
    for (const f of platform.of('data').flatMap((d) => d.frames)) assert.equal(f.raw.length, 13);
  } finally {
    await gw.stop();
    await platform.stop();
    await broker.stop();
    await sims.close();
    tmp.cleanup();
  }
});

for (const qos of [0, 2] as const)
  test(`QoS ${qos}: uplink published at the configured QoS, the disk queue drains`, async () => {
    const sims = await startSimulators({ modbusTcp: { units: [1] } });
    const tmp = makeTempDir();
    const broker = await startOurBroker();
    const platform = new FakePlatform(broker.url, `gw-qos${qos}`, { heartbeatMs: 200 });
    await platform.start();
    const base = config(`gw-qos${qos}`, [broker.url], `${tmp.dir}/q.db`, sims.modbusTcp!.port);
    const gw = new Gateway({ ...base, mqtt: { ...base.mqtt, qos } });
    try {
      await gw.start();
      await waitFor('data', () => platform.of('data').length >= 3);
      await gw.stop();
      assert.equal(gw.queueDepth, 0, 'every message left the disk queue');
      assert.ok(gw.stats.published >= 3);
    } finally {
      await gw.stop();
      await platform.stop();
      await broker.stop();
      await sims.close();
      tmp.cleanup();
    }
  });

for (const whenFull of ['drop-oldest', 'drop-newest'] as const)
  test(`disk queue full (${whenFull}): bounded, drops counted in status, the kept messages delivered`, async () => {
    const sims = await startSimulators({ modbusTcp: { units: [1] } });
    const tmp = makeTempDir();
    const deadUrl = `mqtt://127.0.0.1:${await freePort()}`;
    const queue = { path: `${tmp.dir}/q.db`, maxMessages: 3, whenFull };
    const offline = new Gateway(
      config('gw-full', [deadUrl], `${tmp.dir}/q.db`, sims.modbusTcp!.port, { queue }),
    );
    await offline.start();
    await waitFor('queue overflowed', () => offline.stats.groupsQueued >= 6);
    assert.equal(offline.queueDepth, 3, 'bounded');
    const gwStatus = offline.status().status.gateway as { dropped: number };
    assert.ok(gwStatus.dropped >= 3, `dropped ${gwStatus.dropped}`);
    await offline.stop();
    const broker = await startOurBroker();
    const platform = new FakePlatform(broker.url, 'gw-full', { heartbeatMs: 200 });
    await platform.start();
    const gw = new Gateway(
      config('gw-full', [broker.url], `${tmp.dir}/q.db`, sims.modbusTcp!.port, { queue }),
    );
    try {
      await gw.start();
      await waitFor('the kept messages', () => platform.of('data').length >= 3);
      const first = platform.of('data')[0]!.frames[0]!.seq; // frame counter of the first (offline) run
      if (whenFull === 'drop-newest') assert.equal(first, 0, 'the oldest were kept');
      else assert.ok(first > 0, `the oldest were dropped (first frame delivered: ${first})`);
    } finally {
      await gw.stop();
      await platform.stop();
      await broker.stop();
      await sims.close();
      tmp.cleanup();
    }
  });

test('stop while the broker has gone silent: the goodbye times out and the gateway still stops', async () => {
  const { Broker } = await import('../../src/broker/index.ts');
  const net = await import('node:net');
  const broker = new Broker();
  const sockets: import('node:net').Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    broker.handle(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `mqtt://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
  const tmp = makeTempDir();
  const platform = new FakePlatform(url, 'gw-silent', { heartbeatMs: 100 });
  await platform.start();
  const sims = await startSimulators({ modbusTcp: { units: [1] } });
  const gw = new Gateway(config('gw-silent', [url], `${tmp.dir}/q.db`, sims.modbusTcp!.port));
  try {
    await gw.start();
    await waitFor('online', () => gw.isOnline);
    for (const s of sockets) s.pause(); // the broker stops reading: no PUBACK will ever come
    const started = Date.now();
    await gw.stop({ drainMs: 200 });
    assert.ok(Date.now() - started < 5000, `stopped in ${Date.now() - started} ms`);
  } finally {
    await platform.stop();
    for (const s of sockets) s.destroy();
    await broker.close();
    server.close();
    await sims.close();
    tmp.cleanup();
  }
});
