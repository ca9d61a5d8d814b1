import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from '../../src/access/backoff.ts';
import { FailoverController, TransitionKind, Upstream } from '../../src/access/failover.ts';
import { Liveness, LivenessVerdict } from '../../src/access/liveness.ts';
import { FakeClock } from './fake-clock.ts';

test('failover: Broker1 is taken first; losing it switches to Broker2 at once with the cause', () => {
  const clock = new FakeClock();
  const c = new FailoverController({ failbackHoldMs: 5000 }, clock);
  const t1 = c.upstreamUp(Upstream.Broker1);
  assert.deepEqual([t1?.kind, t1?.to], [TransitionKind.Activate, Upstream.Broker1]);
  assert.equal(c.upstreamUp(Upstream.Broker2), undefined);
  clock.advance(10);
  const t2 = c.upstreamDown(Upstream.Broker1, 'keepalive-timeout');
  assert.deepEqual(
    { ...t2 },
    {
      kind: TransitionKind.Failover,
      from: Upstream.Broker1,
      to: Upstream.Broker2,
      cause: 'keepalive-timeout',
      at: clock.t,
    },
  );
  assert.equal(c.active, Upstream.Broker2);
});

test('failover: failback only after Broker1 has stayed up for the hold time', () => {
  const clock = new FakeClock();
  const c = new FailoverController({ failbackHoldMs: 5000 }, clock);
  c.upstreamUp(Upstream.Broker1);
  c.upstreamUp(Upstream.Broker2);
  c.upstreamDown(Upstream.Broker1, 'socket-closed');
  clock.advance(1000);
  assert.equal(c.upstreamUp(Upstream.Broker1), undefined);
  assert.equal(c.nextDeadline(), clock.t + 5000);
  clock.advance(4999);
  assert.equal(c.tick(), undefined);
  // Flapping: down again before the hold time restarts the clock.
  c.upstreamDown(Upstream.Broker1, 'socket-closed');
  assert.equal(c.nextDeadline(), undefined);
  c.upstreamUp(Upstream.Broker1);
  clock.advance(4000);
  assert.equal(c.tick(), undefined);
  clock.advance(1000);
  const t = c.tick();
  assert.deepEqual([t?.kind, t?.from, t?.to], [TransitionKind.Failback, Upstream.Broker2, Upstream.Broker1]);
  assert.equal(c.nextDeadline(), undefined);
});

test('failover: both down gives "lost"; the first broker back takes over; Broker2 lost while Broker1 holds → Broker1 at once', () => {
  const clock = new FakeClock();
  const c = new FailoverController({ failbackHoldMs: 5000 }, clock);
  c.upstreamUp(Upstream.Broker2);
  assert.equal(c.active, Upstream.Broker2);
  const lost = c.upstreamDown(Upstream.Broker2, 'socket-error');
  assert.equal(lost?.kind, TransitionKind.Lost);
  assert.equal(c.active, null);
  c.upstreamUp(Upstream.Broker2);
  c.upstreamUp(Upstream.Broker1);
  assert.equal(c.active, Upstream.Broker2);
  const t = c.upstreamDown(Upstream.Broker2, 'socket-closed');
  assert.deepEqual([t?.kind, t?.to], [TransitionKind.Failover, Upstream.Broker1]);
  assert.equal(c.upstreamDown(Upstream.Broker2, 'again'), undefined, 'a down link going down is no event');
});

test('failover: hold time 0 fails back as soon as Broker1 is up', () => {
  const clock = new FakeClock();
  const c = new FailoverController({ failbackHoldMs: 0 }, clock);
  c.upstreamUp(Upstream.Broker2);
  const t = c.upstreamUp(Upstream.Broker1);
  assert.equal(t?.kind, TransitionKind.Failback);
});

test('backoff: decorrelated jitter stays within [base, min(cap, 3 × previous)] and resets', () => {
  let r = 1;
  const b = new Backoff({ baseMs: 100, capMs: 2000 }, () => r);
  const seq = [b.next(), b.next(), b.next(), b.next()];
  assert.deepEqual(seq, [300, 900, 2000, 2000]);
  r = 0;
  assert.equal(b.next(), 100);
  r = 0.5;
  b.reset();
  assert.equal(b.next(), 200);
  for (let i = 0; i < 100; i++) {
    const d = new Backoff({ baseMs: 50, capMs: 500 }).next();
    assert.ok(d >= 50 && d <= 150);
  }
});

test('liveness: ping after half a quiet keep-alive, dead after a whole one without any packet', () => {
  const clock = new FakeClock();
  const l = new Liveness(2000, clock);
  clock.advance(999);
  assert.equal(l.check(), LivenessVerdict.Ok);
  clock.advance(1);
  assert.equal(l.check(), LivenessVerdict.Ping);
  clock.advance(500);
  assert.equal(l.check(), LivenessVerdict.Ok, 'one ping outstanding at a time');
  l.received(true);
  clock.advance(1000);
  assert.equal(l.check(), LivenessVerdict.Ping);
  clock.advance(999);
  assert.equal(l.check(), LivenessVerdict.Ok);
  clock.advance(1);
  assert.equal(l.check(), LivenessVerdict.Dead);
  assert.ok(l.checkIntervalMs <= 200, 'checks often enough to notice within 1.1 × keep-alive');
});

test('liveness: a busy sender that hears nothing back is dead after one keep-alive', () => {
  const clock = new FakeClock();
  const l = new Liveness(1000, clock);
  for (let i = 0; i < 9; i++) {
    clock.advance(100);
    l.sent();
    assert.notEqual(l.check(), LivenessVerdict.Dead);
  }
  clock.advance(100);
  assert.equal(l.check(), LivenessVerdict.Dead);
});
