// The platform's heartbeat carries its period; a gateway whose valid interval is not longer than that
// period would flap offline between heartbeats, so it warns once and adopts 2.5 periods instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { parseGatewayConfig } from '../../src/gateway/config.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { OnlineTracker } from '../../src/gateway/online.ts';
import { createLogger } from '../../src/log.ts';
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

test('a gateway with validIntervalMs below the platform heartbeat period warns once and stays online', async (t) => {
  const broker = await startOurBroker();
  const tmp = makeTempDir();
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
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
    { logger: createLogger({ level: 'info', destination }) },
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
