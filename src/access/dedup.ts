import type { Clock } from './clock.ts';

/**
 * Delivers a message coming down from both brokers once (when the brokers are bridged, or a
 * publisher reaches both). A copy is a duplicate only when the *other* upstream delivered the same
 * topic + payload within the window and that copy has not been matched yet; repeats from the same
 * broker are separate messages (a meter may send the same reading twice) and always pass.
 * Bounded in entries and in time; no allocation per message beyond the Map entry.
 */
export interface DedupOptions {
  readonly maxEntries: number;
  readonly windowMs: number;
}

export const DEFAULT_DEDUP: DedupOptions = Object.freeze({ maxEntries: 4096, windowMs: 10_000 });

interface Entry {
  source: number;
  pending: number;
  at: number;
}

export class DedupWindow {
  private readonly entries = new Map<number, Entry>();
  // FIFO of keys in arrival order (ring buffer) for eviction by age and by size.
  // Grown on demand up to maxEntries: an idle session costs a few hundred bytes, not the whole window.
  private ring: Float64Array;
  private ringAt: Float64Array;
  private head = 0;
  private count = 0;
  duplicates = 0;

  constructor(
    private readonly options: DedupOptions,
    private readonly clock: Clock,
  ) {
    const initial = Math.min(options.maxEntries, 16);
    this.ring = new Float64Array(initial);
    this.ringAt = new Float64Array(initial);
  }

  get size(): number {
    return this.entries.size;
  }

  /** True when the message is to be delivered; false when it is the other broker's copy. */
  accept(key: number, source: number): boolean {
    const now = this.clock.now();
    this.evict(now);
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      if (entry.source !== source) {
        entry.pending--;
        if (entry.pending === 0) this.entries.delete(key);
        this.duplicates++;
        return false;
      }
      entry.pending++;
      entry.at = now;
      this.remember(key, now);
      return true;
    }
    this.entries.set(key, { source, pending: 1, at: now });
    this.remember(key, now);
    return true;
  }

  private remember(key: number, now: number): void {
    if (this.count === this.ring.length) {
      if (this.ring.length < this.options.maxEntries) this.grow();
      else this.dropOldest();
    }
    const tail = (this.head + this.count) % this.ring.length;
    this.ring[tail] = key;
    this.ringAt[tail] = now;
    this.count++;
  }

  private grow(): void {
    const size = Math.min(this.options.maxEntries, this.ring.length * 2);
    const ring = new Float64Array(size);
    const ringAt = new Float64Array(size);
    for (let i = 0; i < this.count; i++) {
      const j = (this.head + i) % this.ring.length;
      ring[i] = this.ring[j]!;
      ringAt[i] = this.ringAt[j]!;
    }
    this.ring = ring;
    this.ringAt = ringAt;
    this.head = 0;
  }

  private evict(now: number): void {
    while (this.count > 0 && now - this.ringAt[this.head]! > this.options.windowMs) this.dropOldest();
  }

  private dropOldest(): void {
    const key = this.ring[this.head]!;
    const at = this.ringAt[this.head]!;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
    const entry = this.entries.get(key);
    // Only the newest ring slot of a key removes it; older slots of a refreshed key are stale.
    if (entry !== undefined && entry.at <= at) this.entries.delete(key);
  }
}
