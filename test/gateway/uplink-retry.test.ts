// The uplink window's handling of refused messages (MQTT 5 PUBACK/PUBREC >= 0x80), driven by a fake
// clock (`now` as an argument) and a fixed random source for the jitter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UplinkWindow } from '../../src/gateway/uplink-window.ts';

const policy = { initialMs: 100, maxMs: 1000, jitter: 0.5 };

/** Hands out the next `room` seqs after the cursor, like the gateway's pump over a queue 1..n. */
function sendNew(w: UplinkWindow, last: number): number[] {
  const seqs: number[] = [];
  for (let seq = w.after + 1; seq <= last && seqs.length < w.room; seq++) seqs.push(seq);
  for (const seq of seqs) w.sent(seq);
  return seqs;
}

test('window: a refused message is resent after the backoff with its seq; nothing new goes out before it is accepted', () => {
  const w = new UplinkWindow(3, policy, () => 0);
  assert.deepEqual(sendNew(w, 10), [1, 2, 3]);
  assert.equal(w.rejected(1, 1000), 1100, 'first resend after initialMs');
  assert.equal(w.room, 0, 'no new message while a refused one waits');
  assert.equal(w.acked(2), true, 'messages already in flight are still acknowledged');
  assert.equal(w.acked(3), true);
  assert.equal(w.room, 0, 'still none: seq 1 has not been accepted');
  assert.deepEqual(sendNew(w, 10), []);
  assert.equal(w.nextAt(), 1100);
  assert.deepEqual(w.due(1099), [], 'not before the backoff has passed');
  assert.deepEqual(w.due(1100), [1], 'the same seq goes again');
  assert.equal(w.nextAt(), undefined);
  assert.equal(w.inFlight, 1);
  assert.equal(w.room, 0, 'the resend must be accepted before anything new');
  assert.equal(w.acked(1), true);
  assert.equal(w.pendingRetries, 0);
  assert.deepEqual(sendNew(w, 10), [4, 5, 6], 'then the stream goes on after where it was');
});

test('window: refused messages are resent oldest first, in one round per backoff', () => {
  const w = new UplinkWindow(4, policy, () => 0);
  sendNew(w, 10);
  assert.equal(w.rejected(3, 0), 100);
  assert.equal(w.rejected(1, 5), 100, 'a refusal in the same round does not push the resend back');
  assert.equal(w.rejected(2, 7), 100);
  assert.equal(w.acked(4), true);
  assert.deepEqual(w.due(100), [1, 2, 3]);
});

test('window: the backoff doubles per round of refusals up to the bound, and starts again once accepted', () => {
  const w = new UplinkWindow(1, policy, () => 0);
  sendNew(w, 10);
  let now = 0;
  const delays: number[] = [];
  for (let round = 0; round < 6; round++) {
    const at = w.rejected(1, now)!;
    delays.push(at - now);
    now = at;
    assert.deepEqual(w.due(now), [1]);
  }
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
  w.acked(1);
  sendNew(w, 10);
  assert.equal(w.rejected(2, now)! - now, 100, 'after a success the next refusal waits initialMs again');
});

test('window: jitter takes up to its fraction off the delay', () => {
  const values = [0, 0.999, 0.5];
  const w = new UplinkWindow(1, policy, () => values.shift()!);
  sendNew(w, 10);
  assert.equal(w.rejected(1, 0), 100, 'random 0: the full delay');
  w.due(100);
  assert.equal(w.rejected(1, 100)! - 100, 100, '200 ms minus 0.5 × 0.999 of it');
  w.due(200);
  assert.equal(w.rejected(1, 200)! - 200, 300, '400 ms minus a quarter');
});

test('window: a stale refusal (message not in flight) is ignored; a dropped refused message is forgotten', () => {
  const w = new UplinkWindow(2, policy, () => 0);
  assert.equal(w.rejected(7, 0), undefined, 'not in flight');
  assert.equal(w.nextAt(), undefined);
  sendNew(w, 10);
  w.rejected(1, 0);
  w.acked(2);
  w.forget(1); // the full-queue policy dropped it
  assert.equal(w.nextAt(), undefined);
  assert.equal(w.pendingRetries, 0);
  assert.deepEqual(sendNew(w, 10), [3, 4]);
});

test('window: a lost connection sends refused messages again from the oldest at once', () => {
  const w = new UplinkWindow(3, policy, () => 0);
  sendNew(w, 10);
  w.rejected(2, 0);
  w.acked(1);
  w.reset();
  assert.equal(w.nextAt(), undefined, 'no backoff timer left');
  assert.deepEqual(
    sendNew(w, 10),
    [1, 2, 3],
    'breakpoint resume from the oldest queued (the caller skips acked ones)',
  );
});

test('window: an acknowledgement of another copy of a refused message clears it', () => {
  const w = new UplinkWindow(2, policy, () => 0);
  sendNew(w, 10);
  w.rejected(1, 0);
  assert.equal(w.acked(1), true, 'e.g. an earlier connection’s copy got through');
  assert.equal(w.nextAt(), undefined);
  w.acked(2);
  assert.deepEqual(sendNew(w, 10), [3, 4]);
});
