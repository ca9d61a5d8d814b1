// Devices to frames: runs each device's poll requests when the schedule says they are due, turns
// answers and pushed frames into protocol frames (with the device's frame counter) and hands them on.
// A device that keeps failing is logged once, at its first failure.
import type { Logger } from 'pino';
import type { Frame } from '../protocol/envelope.ts';
import type { TimerClock } from './clock.ts';
import type { Device } from './device.ts';
import { PollScheduler } from './poll-scheduler.ts';

export interface PollingDeps {
  clock: TimerClock;
  log?: Logger;
  devices: ReadonlyMap<string, Device>;
  /** A new frame, from a poll answer or pushed by the device. */
  onFrame: (frame: Frame) => void;
  /** A poll finished: the next one may be due (the caller re-arms its timer). */
  onPollDone: () => void;
  /** Stopping: late answers are dropped. */
  stopping: () => boolean;
}

export class Polling {
  private scheduler: PollScheduler | undefined;

  constructor(private readonly deps: PollingDeps) {}

  /** Every device is in place: their poll requests are scheduled from `now`. */
  schedule(now: number): void {
    const entries: { key: string; everyMs: number }[] = [];
    for (const d of this.deps.devices.values())
      d.config.poll.forEach((p, i) => entries.push({ key: `${d.config.id}#${i}`, everyMs: p.everyMs }));
    this.scheduler = new PollScheduler(entries, now);
  }

  nextAt(): number | undefined {
    return this.scheduler?.nextAt();
  }

  /** Starts every poll that is due. */
  runDue(now: number): void {
    for (const key of this.scheduler?.due(now) ?? []) this.run(key);
  }

  /** Makes every poll request of the device due now (`cmd` with action `poll`). */
  pollNow(device: Device): void {
    const now = this.deps.clock.now();
    device.config.poll.forEach((_, i) => this.scheduler?.trigger(`${device.config.id}#${i}`, now));
  }

  /** A frame the device sent on its own (push transports). */
  pushed(dev: string, raw: Buffer): void {
    const device = this.deps.devices.get(dev);
    if (!device || this.deps.stopping()) return;
    const now = this.deps.clock.now();
    device.health.lastPoll = device.health.lastOk = now;
    this.deps.onFrame({ dev, c: device.contract.id, ts: now, seq: device.nextFrameSeq(), raw });
  }

  private run(key: string): void {
    const { clock, log } = this.deps;
    const [dev, index] = key.split('#') as [string, string];
    const device = this.deps.devices.get(dev)!;
    const req = device.config.poll[Number(index)]!;
    device
      .poll(req)
      .then(
        (answer) => {
          if (this.deps.stopping()) return;
          this.deps.onFrame({
            dev,
            c: device.contract.id,
            ts: clock.now(),
            seq: device.nextFrameSeq(),
            raw: answer.raw,
            ctx: answer.ctx,
          });
        },
        (err: unknown) => {
          // log the change (first failure), not every failed poll of a device that stays silent
          const level = device.health.consecutiveErrors === 1 ? 'warn' : 'debug';
          log?.[level]({ dev, req: req.name, err: (err as Error).message }, 'poll failed');
        },
      )
      .finally(() => {
        this.scheduler?.done(key);
        this.deps.onPollDone();
      })
      .catch(() => undefined);
  }
}
