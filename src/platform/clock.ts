/** Time source for the platform's state machines (the shared Clock); tests pass a fake one. */
import type { Clock } from '../protocol/clock.ts';
export { systemClock, type Clock } from '../protocol/clock.ts';

/** A clock the test moves by hand. */
export class FakeClock implements Clock {
  constructor(private time = 0) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): number {
    this.time += ms;
    return this.time;
  }
  set(time: number): void {
    this.time = time;
  }
}
