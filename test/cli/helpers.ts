// Moved to test/support (cli.ts, ports.ts, mqtt.ts, wait.ts). This file only re-exports the old names
// for tests written against it; import from test/support instead.
import { waitFor } from '../support/wait.ts';

export {
  BIN,
  brokerArgs,
  logLines,
  ROOT,
  runCli,
  startBrokerCli as startBroker,
  startUp,
  upArgs,
  type RunningBroker,
  type RunningCli,
  type RunningUp,
} from '../support/cli.ts';
export { connectClient } from '../support/mqtt.ts';
export { freePort } from '../support/ports.ts';

/** The old argument order of test/support/wait.ts `waitFor`. */
export async function waitUntil(
  check: () => boolean,
  timeoutMs = 10_000,
  explain?: () => string,
): Promise<void> {
  await waitFor(explain ?? 'condition', check, timeoutMs);
}
