import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeadlineWheel, type WheelItem } from '../../src/broker/deadline-wheel.ts';
import { FakeClock } from './fakes.ts';

/** FakeClock's start time (a whole number of seconds, so buckets line up with the figures below). */
const T0 = new FakeClock().now();

function item(
  log: string[],
  name: string,
  again?: (now: number) => number | undefined,
): WheelItem & { wheel?: DeadlineWheel } {
  const it: WheelItem & { wheel?: DeadlineWheel } = {
    wheelSlot: 0,
    onDeadline(now) {
      log.push(`${name}@${now - T0}`);
      const next = again?.(now);
      if (next !== undefined) it.wheel!.schedule(it, next);
    },
  };
  return it;
}

test('deadline wheel: items fire at or after their deadline, never early, one resolution late at most', () => {
  const clock = new FakeClock();
  const wheel = new DeadlineWheel(clock, 1000);
  const log: string[] = [];
  wheel.schedule(item(log, 'a'), T0 + 1500);
  wheel.schedule(item(log, 'b'), T0 + 3000);
  clock.advance(1999);
  assert.deepEqual(log, []);
  clock.advance(1);
  assert.deepEqual(log, ['a@2000']);
  clock.advance(999);
  assert.deepEqual(log, ['a@2000']);
  clock.advance(1);
  assert.deepEqual(log, ['a@2000', 'b@3000']);
});

test('deadline wheel: a cancelled item does not fire; a rescheduled one fires once, at its new deadline', () => {
  const clock = new FakeClock();
  const wheel = new DeadlineWheel(clock, 1000);
  const log: string[] = [];
  const a = item(log, 'a');
  const b = item(log, 'b');
  wheel.schedule(a, T0 + 1000);
  wheel.schedule(b, T0 + 1000);
  wheel.cancel(a);
  wheel.schedule(b, T0 + 5000);
  clock.advance(4000);
  assert.deepEqual(log, []);
  clock.advance(1000);
  assert.deepEqual(log, ['b@5000']);
  clock.advance(10_000);
  assert.deepEqual(log, ['b@5000']);
});

test('deadline wheel: an item may schedule itself again from its deadline (keep alive re-check)', () => {
  const clock = new FakeClock();
  const wheel = new DeadlineWheel(clock, 1000);
  const log: string[] = [];
  const a = item(log, 'a', (now) => (now - T0 < 3000 ? now + 1000 : undefined));
  a.wheel = wheel;
  wheel.schedule(a, T0 + 1000);
  clock.advance(10_000);
  assert.deepEqual(log, ['a@1000', 'a@2000', 'a@3000']);
});
