// Breakpoint resume: the link is cut longer than the valid interval while devices keep producing; when
// it returns every reading arrives exactly once (after the platform's seq dedup), in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway } from '../../src/gateway/gateway.ts';
import { parseGatewayConfig } from '../../src/gateway/config.ts';
import type { DataEnvelope } from '../../src/protocol/envelope.ts';
import { startSimulators } from '../../src/sim/index.ts';
import { FakePlatform } from './helpers.ts';
import { startMosquitto, startOurBroker, type RestartableBroker } from '../support/broker.ts';
import { makeTempDir } from '../support/temp.ts';
import { waitFor } from '../support/wait.ts';

const VALID_MS = 600;

/** The platform's rule (docs/protocol.md): apply each data seq at most once. */
function applied(platform: FakePlatform): DataEnvelope[] {
  const seen = new Set<number>();
  return platform.of('data').filter((d) => (seen.has(d.seq) ? false : (seen.add(d.seq), true)));
}

function assertEveryFrameOnceInOrder(groups: DataEnvelope[], devs: string[]): number {
  let total = 0;
  for (const dev of devs) {
    const seqs = groups.flatMap((g) => g.frames.filter((f) => f.dev === dev).map((f) => f.seq));
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i),
      `${dev}: frames 0..${seqs.length - 1}, each once, in order`,
    );
    total += seqs.length;
  }
  const envelopeSeqs = groups.map((g) => g.seq);
  assert.deepEqual(
    envelopeSeqs,
    [...envelopeSeqs].sort((a, b) => a - b),
    'data groups in seq order',
  );
  return total;
}

const BROKERS: [string, () => Promise<RestartableBroker>][] = [
  ['mosquitto', startMosquitto],
  ['mqiot broker', startOurBroker],
];

for (const [name, startBroker] of BROKERS)
  test(`[protocol: heartbeat] outage (${name}): broker down longer than the valid interval, then breakpoint resume`, async () => {
    const broker = await startBroker();
    const sims = await startSimulators({ modbusTcp: { units: [1, 2] } });
    const tmp = makeTempDir();
    const platform = new FakePlatform(broker.url, 'gw-out', { heartbeatMs: 150 });
    await platform.start();
    const gw = new Gateway(
      parseGatewayConfig({
        gateway: { id: 'gw-out' },
        mqtt: { urls: [broker.url], reconnectMs: 100 },
        batching: { windowMs: 100 },
        heartbeat: { validIntervalMs: VALID_MS },
        reports: { intervalMs: 60_000 },
        queue: { path: `${tmp.dir}/q.db`, inflight: 4 },
        devices: [1, 2].map((unit) => ({
          id: `pm-${unit}`,
          contract: 'modbus-tcp',
          transport: { type: 'tcp', host: '127.0.0.1', port: sims.modbusTcp!.port },
          params: { unit },
          poll: [{ message: 'read-input-registers', params: { start: 0, count: 4 }, everyMs: 50 }],
        })),
      }),
    );
    await gw.start();
    try {
      await waitFor('online with data', () => gw.isOnline && platform.of('data').length >= 3);
      await broker.stop(); // cut the link
      await waitFor('offline', () => !gw.isOnline);
      const framesAtCut = gw.stats.framesQueued;
      const cutAt = Date.now();
      // The scenario is an outage longer than the valid interval, with the devices producing meanwhile.
      await waitFor(
        'an outage longer than the valid interval, devices producing',
        () => Date.now() - cutAt >= VALID_MS * 2 && gw.stats.framesQueued > framesAtCut + 10,
      );
      assert.ok(gw.queueDepth > 0, 'buffered to the disk queue');
      await broker.start();
      await platform.stop(); // its client lost the broker too: start a fresh one
      const platform2 = new FakePlatform(broker.url, 'gw-out', { heartbeatMs: 150 });
      await platform2.start();
      await waitFor('gateway back online', () => gw.isOnline, 15_000);
      const frames = gw.stats.framesQueued;
      await waitFor(
        'queue drained past the outage',
        () => gw.queueDepth === 0 && gw.stats.framesQueued > frames + 5,
        15_000,
      );
      await gw.stop();
      assert.equal(gw.queueDepth, 0, 'drained on stop');
      await waitFor('the last groups reach the platform', () => platform2.of('will').length > 0);
      // platform 2 holds everything after the reconnect; together with platform 1 it must be the complete stream
      const all = new FakePlatform(broker.url, 'gw-out');
      all.received.push(...platform.received, ...platform2.received);
      const groups = applied(all);
      const total = assertEveryFrameOnceInOrder(groups, ['pm-1', 'pm-2']);
      assert.equal(total, gw.stats.framesQueued, 'every frame the gateway produced arrived');
      await platform2.stop();
    } finally {
      await gw.stop();
      await sims.close();
      await broker.stop();
      tmp.cleanup();
    }
  });

test('[protocol: heartbeat] heartbeats stop (link up): online=0 after the valid interval, buffered, resumed in order', async () => {
  const broker = await startMosquitto();
  const sims = await startSimulators({ modbusTcp: { units: [1] } });
  const tmp = makeTempDir();
  const platform = new FakePlatform(broker.url, 'gw-hb', { heartbeatMs: 100 });
  await platform.start();
  const gw = new Gateway(
    parseGatewayConfig({
      gateway: { id: 'gw-hb' },
      mqtt: { urls: [broker.url], reconnectMs: 100 },
      batching: { windowMs: 50 },
      heartbeat: { validIntervalMs: 400 },
      reports: { intervalMs: 60_000 },
      queue: { path: `${tmp.dir}/q.db` },
      devices: [
        {
          id: 'pm-1',
          contract: 'modbus-tcp',
          transport: { type: 'tcp', host: '127.0.0.1', port: sims.modbusTcp!.port },
          params: { unit: 1 },
          poll: [{ message: 'read-holding-registers', params: { start: 0, count: 2 }, everyMs: 40 }],
        },
      ],
    }),
  );
  await gw.start();
  try {
    await waitFor('online', () => gw.isOnline && platform.of('data').length > 0);
    platform.heartbeats = false;
    const lastHeartbeatAt = Date.now();
    await waitFor('offline after the valid interval', () => !gw.isOnline);
    assert.ok(Date.now() - lastHeartbeatAt >= 300, 'not before the valid interval');
    const offlineSeenAt = Date.now();
    // While offline the devices keep producing: once several more frames were queued, any group made
    // after the switch and sent instead of buffered would have reached the platform. Groups made before
    // it may still arrive (several can be in flight on a busy machine), so the check is by the group's
    // own time, not by a count.
    const queuedAtOffline = gw.stats.framesQueued;
    await waitFor('frames produced while offline', () => gw.stats.framesQueued >= queuedAtOffline + 8);
    const sentWhileOffline = platform.of('data').filter((g) => g.ts > offlineSeenAt);
    assert.deepEqual(
      sentWhileOffline.map((g) => g.seq),
      [],
      'no group made while offline was sent',
    );
    assert.ok(gw.queueDepth > 0, 'buffered');
    platform.heartbeats = true;
    platform.heartbeat();
    await waitFor('resumed and drained', () => gw.isOnline && gw.queueDepth === 0);
    await gw.stop();
    await waitFor(
      'all delivered',
      () => applied(platform).reduce((n, g) => n + g.frames.length, 0) === gw.stats.framesQueued,
    );
    assertEveryFrameOnceInOrder(applied(platform), ['pm-1']);
  } finally {
    await gw.stop();
    await platform.stop();
    await sims.close();
    await broker.stop();
    tmp.cleanup();
  }
});
