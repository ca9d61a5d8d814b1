// Child processes started by tests: whether one still runs, and stopping it.
import type { ChildProcess } from 'node:child_process';

export function isRunning(child: ChildProcess | undefined): child is ChildProcess {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

/** Sends `signal` (SIGKILL: a crash; SIGTERM: a graceful stop) and resolves once the process exited. */
export async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!isRunning(child)) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  await exited;
}
