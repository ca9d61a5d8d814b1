// The gateway's protocol timers on a fake clock (heartbeat validity, polling, report resends), with
// real sockets underneath: time moves only when the test says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../../src/gateway/clock.ts';
import { parseGatewayConfig } from '../../src/gateway/config.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { startSimulators } from '../../src/sim/index.ts';
import { FakePlatform } from './helpers.ts';
import { startOurBroker } from '../support/broker.ts';
import { makeTempDir } from '../support/temp.ts';
import { waitFor } from '../support/wait.ts';

class FakeClock implements Clock {
  private t = 1_700_000_000_000;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private ids = 0;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.ids;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers)
        if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
  }
}

test('fake clock [protocol: heartbeat, periodic report]: online exactly until the valid interval; reports resent per ack timeout', async () => {
  const clock = new FakeClock();
  const sims = await startSimulators({ modbusTcp: { units: [1] } });
  const tmp = makeTempDir();
  const broker = await startOurBroker();
  const platform = new FakePlatform(broker.url, 'gw-fake', { ackReports: false });
  await platform.start();
  platform.heartbeats = false; // the test sends them by hand
  const gw = new Gateway(
    parseGatewayConfig({
      gateway: { id: 'gw-fake' },
      mqtt: { urls: [broker.url], reconnectMs: 100 },
      batching: { windowMs: 0 },
      heartbeat: { validIntervalMs: 10_000 },
      reports: { intervalMs: 60_000, ackTimeoutMs: 5_000 },
      queue: { path: `${tmp.dir}/q.db` },
      devices: [
        {
          id: 'pm-1',
          contract: 'modbus-tcp',
          transport: { type: 'tcp', host: '127.0.0.1', port: sims.modbusTcp!.port },
          params: { unit: 1 },
          poll: [{ message: 'read-holding-registers', params: { start: 0, count: 2 }, everyMs: 1000 }],
        },
      ],
    }),
    { clock },
  );
  try {
    await gw.start();
    await waitFor('birth', () => platform.of('birth').length === 1);
    assert.equal(gw.isOnline, false, 'online only after a heartbeat');
    await waitFor('first poll queued', () => gw.stats.framesQueued === 1);
    assert.equal(platform.of('data').length, 0, 'nothing sent before the first heartbeat');
    platform.heartbeat();
    await waitFor(
      'online and the first frame delivered',
      () => gw.isOnline && platform.of('data').length === 1,
    );

    // one poll per second of fake time; each waits for its real exchange with the simulator
    const seconds = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const queued = gw.stats.framesQueued;
        clock.advance(1000);
        await waitFor('the poll of this second', () => gw.stats.framesQueued === queued + 1);
      }
    };
    await seconds(10); // exactly the valid interval: still online
    assert.equal(gw.isOnline, true);
    await waitFor('10 more frames', () => platform.of('data').length === 11);
    clock.advance(1); // now − last > valid interval
    assert.equal(gw.isOnline, false);
    await seconds(3);
    await waitFor('3 frames queued while offline', () => gw.queueDepth === 3);
    assert.equal(platform.of('data').length, 11, 'nothing published while offline');
    platform.heartbeat();
    await waitFor('breakpoint resume', () => platform.of('data').length === 14 && gw.queueDepth === 0);

    const beat = async () => {
      const n = gw.stats.heartbeats;
      platform.heartbeat();
      await waitFor('heartbeat received', () => gw.stats.heartbeats === n + 1 && gw.isOnline);
    };
    clock.advance(60_000 - 13_001); // the first report is due at start + 60 s (offline by now: queued)
    await beat();
    const report = await waitFor('report', () => platform.of('report')[0]);
    await waitFor('report published', () => gw.queueDepth === 0);
    // On the fake clock a resend can only come when the test advances it: none is pending.
    assert.equal(gw.stats.reportsResent, 0, 'not resent before the ack timeout');
    assert.equal(platform.of('report').length, 1);
    await beat();
    clock.advance(5_000);
    await waitFor('resent once', () => platform.of('report').length === 2);
    assert.equal(platform.of('report')[1]!.seq, report.seq, 'the same report');
    await beat();
    clock.advance(5_000);
    await waitFor('resent again', () => platform.of('report').length === 3);
    platform.send({ v: 1, k: 'report-ack', gw: 'gw-fake', ts: clock.now(), ack: report.seq });
    await waitFor('acknowledged', () => gw.stats.reportsAcked === 1);
    await beat();
    const resent = gw.stats.reportsResent;
    clock.advance(10_000); // due timers run inside advance(): a resend would be counted by now
    assert.equal(gw.stats.reportsResent, resent, 'no resend after the ack');
    assert.equal(platform.of('report').length, 3);
  } finally {
    await gw.stop({ graceful: false });
    await platform.stop();
    await broker.stop();
    await sims.close();
    tmp.cleanup();
  }
});
