import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Batcher } from '../../src/gateway/batcher.ts';
import { CommandCache } from '../../src/gateway/command-cache.ts';
import { OnlineTracker } from '../../src/gateway/online.ts';
import { PollScheduler } from '../../src/gateway/poll-scheduler.ts';
import { ReportTracker } from '../../src/gateway/reports.ts';
import { UplinkWindow } from '../../src/gateway/uplink-window.ts';
import type { Frame } from '../../src/protocol/envelope.ts';

const frame = (dev: string, seq: number, bytes = 4): Frame => ({
  dev,
  c: 'x',
  ts: 0,
  seq,
  raw: Buffer.alloc(bytes),
});

test('online [protocol: heartbeat]: heartbeat → online=1 and last=now; now−last > valid interval → online=0', () => {
  const t = new OnlineTracker(150);
  assert.equal(t.online, false, 'offline until the first heartbeat');
  assert.deepEqual(t.onHeartbeat(1000), { online: true, at: 1000 });
  assert.equal(t.lastCommunication, 1000);
  assert.equal(t.tick(1150), undefined, 'exactly the valid interval is still online');
  assert.equal(t.onHeartbeat(1100), undefined, 'already online: no change, last communication moves');
  assert.equal(t.lastCommunication, 1100);
  assert.equal(t.tick(1250), undefined);
  assert.equal(t.nextAt(), 1251);
  assert.deepEqual(t.tick(1251), { online: false, at: 1251 });
  assert.equal(t.online, false);
  assert.deepEqual(t.onHeartbeat(2000), { online: true, at: 2000 });
  assert.deepEqual(t.onDisconnect(2001), { online: false, at: 2001 });
});

test('batcher: frames within the window form one multi-device data group', () => {
  const b = new Batcher({ windowMs: 1000, maxFrames: 50, maxBytes: 65536 });
  assert.deepEqual(b.add(frame('a', 0), 0), []);
  assert.deepEqual(b.add(frame('b', 0), 400), []);
  assert.deepEqual(b.add(frame('c', 0), 900), []);
  assert.equal(b.nextAt(), 1000);
  assert.deepEqual(b.tick(999), []);
  const [group] = b.tick(1000);
  assert.deepEqual(
    group!.map((f) => f.dev),
    ['a', 'b', 'c'],
  );
  assert.equal(b.nextAt(), undefined);
});

test('batcher: a single device is sent within the window; size limits close a group early', () => {
  const b = new Batcher({ windowMs: 1000, maxFrames: 3, maxBytes: 10 });
  b.add(frame('a', 0, 1), 0);
  assert.equal(b.tick(1000)[0]!.length, 1, 'lone frame goes out when its window ends');
  b.add(frame('a', 1, 1), 2000);
  b.add(frame('b', 0, 1), 2001);
  assert.equal(b.add(frame('c', 0, 1), 2002)[0]!.length, 3, 'maxFrames');
  b.add(frame('a', 2, 6), 3000);
  const out = b.add(frame('b', 1, 6), 3001);
  assert.equal(out.length, 1, 'a frame that would exceed maxBytes starts the next group');
  assert.equal(out[0]![0]!.seq, 2);
  assert.equal(b.pending, 1);
});

test('command cache [protocol: control command]: a resent id is answered from the cache, not executed twice', () => {
  const c = new CommandCache({ size: 2, ttlMs: 1000 });
  assert.deepEqual(c.begin('c1', 0), { action: 'execute' });
  assert.deepEqual(c.begin('c1', 10), { action: 'in-progress' }, 'resend while executing');
  c.complete('c1', { ok: true, result: { relay: 'off' } }, 20);
  assert.deepEqual(c.begin('c1', 30), { action: 'cached', outcome: { ok: true, result: { relay: 'off' } } });
  assert.deepEqual(c.begin('c2', 40), { action: 'execute' });
  assert.deepEqual(c.begin('c3', 50), { action: 'execute' });
  assert.equal(c.size, 2, 'bounded: the oldest id was evicted');
  assert.deepEqual(c.begin('c1', 60), { action: 'execute' });
  c.complete('c3', { ok: false, error: 'timeout' }, 60);
  assert.deepEqual(c.begin('c3', 1060), { action: 'cached', outcome: { ok: false, error: 'timeout' } });
  assert.deepEqual(c.begin('c3', 1061 + 1000), { action: 'execute' }, 'expired after the TTL');
});

test('reports [protocol: periodic report]: due every interval, resent unchanged until report-ack', () => {
  const r = new ReportTracker({ intervalMs: 1000, ackTimeoutMs: 300, maxPending: 2 }, 0);
  assert.equal(r.tick(999, true).makeReport, false);
  assert.equal(r.tick(1000, true).makeReport, true);
  const payload = Buffer.from('r1');
  r.onQueued(5, payload);
  assert.deepEqual(r.tick(1500, true).resend, [], 'not resent while still in the disk queue');
  r.onPublished(5, 1500);
  assert.equal(r.nextAt(), 1800);
  assert.deepEqual(r.tick(1799, true).resend, []);
  assert.deepEqual(r.tick(1800, false).resend, [], 'offline: wait');
  assert.deepEqual(r.tick(1800, true).resend, [{ seq: 5, payload }]);
  assert.deepEqual(r.tick(2099, true).resend, []);
  assert.equal(r.tick(2100, true).resend.length, 1, 'again after another ack timeout');
  assert.equal(r.onAck(5), true);
  assert.equal(r.onAck(5), false, 'duplicate ack');
  assert.deepEqual(r.tick(5000, true).resend, []);
  r.onQueued(6, payload);
  r.onQueued(7, payload);
  r.onQueued(8, payload);
  assert.deepEqual(r.unacknowledged, [7, 8]);
  assert.equal(r.givenUp, 1);
});

test('poll scheduler: per-request periods, no pile-up behind a busy request, trigger runs at once', () => {
  const s = new PollScheduler(
    [
      { key: 'a', everyMs: 100 },
      { key: 'b', everyMs: 250 },
    ],
    0,
  );
  assert.deepEqual(s.due(0), ['a', 'b']);
  s.done('a');
  assert.deepEqual(s.due(100), ['a']);
  assert.equal(s.nextAt(), 200);
  assert.deepEqual(s.due(250), [], 'a still running, b still running');
  s.done('b');
  s.done('a');
  assert.deepEqual(s.due(300), ['a']);
  s.done('a');
  assert.deepEqual(s.due(10_000), ['a', 'b'], 'fell behind: one poll each, no burst');
  s.done('a');
  s.done('b');
  assert.deepEqual(s.due(10_001), []);
  s.trigger('b', 10_002);
  assert.deepEqual(s.due(10_002), ['b']);
});

test('uplink window: in order, bounded in flight, restart from the oldest after a lost connection', () => {
  const w = new UplinkWindow(2);
  assert.equal(w.room, 2);
  w.sent(1);
  w.sent(2);
  assert.equal(w.room, 0);
  assert.equal(w.after, 2);
  assert.equal(w.acked(1), true);
  assert.equal(w.room, 1);
  w.reset();
  assert.equal(w.after, 0);
  assert.equal(w.room, 2);
});
