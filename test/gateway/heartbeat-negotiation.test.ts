// The platform's heartbeat carries its period; a gateway whose valid interval is not longer than that
// period would flap offline between heartbeats, so it warns once and adopts 2.5 periods instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { parseGatewayConfig } from '../../src/gateway/config.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { OnlineTracker } from '../../src/gateway/online.ts';
import { createLogger } from '../../src/log.ts';
import { startSimulators } from '../../src/sim/index.ts';
import { FakePlatform } from './helpers.ts';
import { startOurBroker } from '../support/broker.ts';
import { makeTempDir } from '../support/temp.ts';
import { waitFor } from '../support/wait.ts';

test('OnlineTracker.adapt: a valid interval not above the heartbeat period becomes 2.5 periods', () => {
  const t = new OnlineTracker(1000);
  assert.equal(t.adapt(500), undefined, 'longer than the period: kept');
  assert.equal(t.validInterval, 1000);
  assert.deepEqual(t.adapt(1000), { configuredMs: 1000, heartbeatMs: 1000, adoptedMs: 2500 });
  assert.equal(t.adapt(1000), undefined, 'same period again: nothing new to say');
  t.onHeartbeat(0);
  assert.equal(t.tick(2000), undefined, 'still online two seconds after a heartbeat');
  assert.deepEqual(t.tick(2501), { online: false, at: 2501 });
  assert.equal(t.adapt(400), undefined, 'the period shrank: back to the configured interval, silently');
  assert.equal(t.validInterval, 1000);
});

/** A logger writing into `lines` (parsed JSON), to assert on what an operator would read. */
function capturingLogger(lines: Record<string, unknown>[]) {
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return createLogger({ level: 'info', destination });
}

test('with a broker but no platform, the gateway says once why its data waits', async (t) => {
  const broker = await startOurBroker();
  const sims = await startSimulators({ modbusTcp: { units: [1] } });
  const tmp = makeTempDir();
  const lines: Record<string, unknown>[] = [];
  const platform = new FakePlatform(broker.url, 'gw-alone'); // listens only: never sends a heartbeat
  await platform.start();
  platform.heartbeats = false;
  const gw = new Gateway(
    parseGatewayConfig({
      gateway: { id: 'gw-alone' },
      mqtt: { urls: [broker.url], reconnectMs: 100 },
      batching: { windowMs: 0 },
      queue: { path: `${tmp.dir}/q.db` },
      devices: [
        {
          id: 'pm-1',
          contract: 'modbus-tcp',
          transport: { type: 'tcp', host: '127.0.0.1', port: sims.modbusTcp!.port },
          params: { unit: 1 },
          poll: [{ message: 'read-holding-registers', params: { start: 0, count: 2 }, everyMs: 50 }],
        },
      ],
    }),
    { logger: capturingLogger(lines) },
  );
  t.after(async () => {
    await gw.stop({ graceful: false });
    await platform.stop();
    await sims.close();
    await broker.stop();
    tmp.cleanup();
  });
  await gw.start();
  await waitFor('the birth', () => platform.of('birth').length === 1);
  await waitFor('five data groups queued', () => gw.stats.groupsQueued >= 5);
  const hints = lines.filter((l) => /until a platform heartbeat arrives/.test(String(l.msg)));
  assert.equal(hints.length, 1, 'said once, not per group');
  assert.equal(hints[0]!.level, 30, 'at info level');
  assert.equal(platform.of('data').length, 0, 'nothing but the birth is published');
});

test('a gateway with validIntervalMs below the platform heartbeat period warns once and stays online', async (t) => {
  const broker = await startOurBroker();
  const tmp = makeTempDir();
  const lines: Record<string, unknown>[] = [];
  const platform = new FakePlatform(broker.url, 'gw-hb-neg', { heartbeatMs: 300 });
  await platform.start();
  const gw = new Gateway(
    parseGatewayConfig({
      gateway: { id: 'gw-hb-neg' },
      mqtt: { urls: [broker.url], reconnectMs: 100 },
      heartbeat: { validIntervalMs: 200 }, // shorter than the 300 ms period: would flap
      queue: { path: `${tmp.dir}/q.db` },
      devices: [],
    }),
    { logger: capturingLogger(lines) },
  );
  t.after(async () => {
    await gw.stop();
    await platform.stop();
    await broker.stop();
    tmp.cleanup();
  });
  await gw.start();
  await waitFor('six heartbeats', () => gw.stats.heartbeats >= 6, 10_000);
  const warnings = lines.filter((l) => /not longer than the platform heartbeat period/.test(String(l.msg)));
  assert.equal(warnings.length, 1, 'warned once');
  assert.equal(warnings[0]!.adoptedMs, 750);
  assert.equal(warnings[0]!.configuredMs, 200);
  const lapsed = lines.filter((l) => /heartbeat lapsed/.test(String(l.msg)));
  assert.equal(lapsed.length, 0, 'never went offline between heartbeats');
  assert.equal(gw.isOnline, true);
});
