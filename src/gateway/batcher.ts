// Multi-device data groups: frames collected within the batching window (from the first frame of a
// group) or up to a size limit go out as one `data` message.
import type { Frame } from '../protocol/envelope.ts';

export interface BatchLimits {
  windowMs: number;
  maxFrames: number;
  maxBytes: number;
}

export class Batcher {
  private frames: Frame[] = [];
  private bytes = 0;
  private openedAt: number | undefined;

  constructor(private readonly limits: BatchLimits) {}

  get pending(): number {
    return this.frames.length;
  }

  /** Adds a frame; returns the groups that are complete now (at most two: a full one and a new one). */
  add(frame: Frame, now: number): Frame[][] {
    const out: Frame[][] = [];
    // a frame that would push the group over the byte limit starts the next group
    if (this.frames.length > 0 && this.bytes + frame.raw.length > this.limits.maxBytes) out.push(this.take());
    if (this.frames.length === 0) this.openedAt = now;
    this.frames.push(frame);
    this.bytes += frame.raw.length;
    if (this.frames.length >= this.limits.maxFrames || this.bytes >= this.limits.maxBytes)
      out.push(this.take());
    else if (this.limits.windowMs <= 0) out.push(this.take());
    return out;
  }

  /** Closes the group when its window has passed. */
  tick(now: number): Frame[][] {
    if (this.openedAt === undefined || now - this.openedAt < this.limits.windowMs) return [];
    return [this.take()];
  }

  nextAt(): number | undefined {
    return this.openedAt === undefined ? undefined : this.openedAt + this.limits.windowMs;
  }

  /** Everything pending, as one group (shutdown). */
  flush(): Frame[][] {
    return this.frames.length ? [this.take()] : [];
  }

  private take(): Frame[] {
    const group = this.frames;
    this.frames = [];
    this.bytes = 0;
    this.openedAt = undefined;
    return group;
  }
}
