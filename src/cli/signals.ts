/**
 * Resolves with the first SIGINT or SIGTERM, so a long-running command can shut down gracefully.
 * A second Ctrl-C while it shuts down means "now": the process exits at once with 130.
 * Call it first thing, before starting anything: a signal that comes before the listener is in place
 * gets the default action, and a supervisor that stops the process right after its "running" line
 * would see it killed by SIGTERM instead of shut down.
 */
export function waitForStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.once('SIGINT', () => process.exit(130));
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
