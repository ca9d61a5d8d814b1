// Commands from the platform (docs/protocol.md `cmd`): run once per id — a resent id is answered from
// the idempotency cache, one still running is ignored (its result is coming) — through the device's
// contract, or `poll` to run a device's poll plan now. The result goes back through `sendResult`.
import type { TimerClock } from './clock.ts';
import type { CommandCache, CommandOutcome } from './command-cache.ts';
import type { Device } from './device.ts';
import type { GatewayStats } from './status.ts';

export interface CommandRunnerDeps {
  clock: TimerClock;
  cache: CommandCache;
  devices: ReadonlyMap<string, Device>;
  stats: GatewayStats;
  /** Runs every poll request of the device at once (`action: "poll"`). */
  pollNow: (device: Device) => void;
  sendResult: (id: string, dev: string, outcome: CommandOutcome, cached: boolean) => void;
  /** The gateway has stopped: a result that comes in later is not sent. */
  stopped: () => boolean;
}

export class CommandRunner {
  constructor(private readonly deps: CommandRunnerDeps) {}

  onCommand(id: string, dev: string, action: string, params: Record<string, unknown>): void {
    const { cache, clock, stats } = this.deps;
    const decision = cache.begin(id, clock.now());
    if (decision.action === 'in-progress') return; // its result is on the way
    if (decision.action === 'cached') {
      stats.commandsCached++;
      this.deps.sendResult(id, dev, decision.outcome, true); // a resent command is not executed twice
      return;
    }
    stats.commandsExecuted++;
    void this.execute(dev, action, params).then((outcome) => {
      cache.complete(id, outcome, clock.now());
      if (!this.deps.stopped()) this.deps.sendResult(id, dev, outcome, false);
    });
  }

  private async execute(
    dev: string,
    action: string,
    params: Record<string, unknown>,
  ): Promise<CommandOutcome> {
    const device = this.deps.devices.get(dev);
    if (!device) return { ok: false, error: `unknown device '${dev}'` };
    if (action === 'poll') {
      this.deps.pollNow(device);
      return { ok: true, result: { polls: device.config.poll.length } };
    }
    return device.command(action, params);
  }
}
