/**
 * One timer for many deadlines (keep alive of every connection): deadlines fall into buckets of
 * `resolutionMs`, and a single clock timer runs for the earliest bucket. A timer per connection
 * costs a Timeout object and a closure each (about 200 bytes) and a timer-list entry; 100 000 idle
 * clients would hold 100 000 of them. A deadline fires at most one resolution late, never early.
 */
import { unrefTimer, type TimerClock } from '../protocol/clock.ts';

/** Something with a deadline. `wheelSlot` belongs to the wheel (0 = not scheduled). */
export interface WheelItem {
  wheelSlot: number;
  /** The deadline has passed; the item may schedule itself again. */
  onDeadline(now: number): void;
}

export class DeadlineWheel {
  /** Items by slot (deadline / resolution, rounded up). Cancelled items stay until their slot comes. */
  private readonly buckets = new Map<number, WheelItem[]>();
  private timer: unknown;
  private timerSlot = Infinity;

  constructor(
    private readonly clock: TimerClock,
    private readonly resolutionMs = 1000,
  ) {}

  /** Calls `item.onDeadline` once `at` (ms, clock time) has passed; replaces an earlier schedule. */
  schedule(item: WheelItem, at: number): void {
    const slot = Math.ceil(at / this.resolutionMs);
    item.wheelSlot = slot;
    const bucket = this.buckets.get(slot);
    if (bucket === undefined) this.buckets.set(slot, [item]);
    else bucket.push(item);
    if (slot < this.timerSlot) this.arm(slot);
  }

  /** The item's deadline no longer matters (its entry is skipped when the bucket comes due). */
  cancel(item: WheelItem): void {
    item.wheelSlot = 0;
  }

  private arm(slot: number): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timerSlot = slot;
    this.timer = this.clock.setTimeout(this.fire, Math.max(0, slot * this.resolutionMs - this.clock.now()));
    unrefTimer(this.timer);
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.timerSlot = Infinity;
    const now = this.clock.now();
    const due = Math.floor(now / this.resolutionMs);
    for (const [slot, items] of this.buckets) {
      if (slot > due) continue;
      this.buckets.delete(slot);
      for (const item of items) {
        // an item cancelled or moved to another slot since it was put here is skipped
        if (item.wheelSlot !== slot) continue;
        item.wheelSlot = 0;
        item.onDeadline(now);
      }
    }
    let next = Infinity;
    for (const slot of this.buckets.keys()) if (slot < next) next = slot;
    if (next !== Infinity && next < this.timerSlot) this.arm(next);
  };
}
