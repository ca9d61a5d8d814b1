// One wake-up timer for the whole gateway, set at the earliest deadline of all its machines (batch
// window, polls, online validity, reports, resends): re-armed only when that deadline changes.
import type { TimerClock } from './clock.ts';

export class WakeTimer {
  private timer: unknown;
  private wakeAt = Infinity;

  constructor(
    private readonly clock: TimerClock,
    private readonly onWake: () => void,
  ) {}

  /** Wake at `next` (Infinity: not at all). */
  arm(next: number, now: number): void {
    if (next === this.wakeAt && this.timer !== undefined) return;
    this.clock.clearTimeout(this.timer);
    this.wakeAt = next;
    if (next === Infinity) return;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.wakeAt = Infinity;
        this.onWake();
      },
      Math.max(0, next - now),
    );
  }

  clear(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.wakeAt = Infinity;
  }
}
