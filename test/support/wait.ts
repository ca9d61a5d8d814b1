// Waiting in tests: always for a condition, never for a fixed time. One signature everywhere:
// what is awaited (for the timeout message), the check, and an upper bound.

/** What a check returns while the condition does not hold yet. */
type NotYet = undefined | null | false;

/**
 * Upper bound for a child process (`mqiot up`, `mqiot broker`, …) to be ready. tsx compiles the
 * TypeScript at every start, which takes seconds on a quiet machine and far longer while both cores
 * are busy; the bound only decides how long a broken start takes to fail.
 */
export const PROCESS_START_MS = 90_000;

/**
 * Polls `check` until it returns a truthy value, and returns that value. Fails after `timeoutMs` with
 * "timed out after … waiting for <what>"; `what` may be a function so the message can carry state
 * read at that moment (a child process's output, the messages received so far). A check that throws
 * ends the wait with its error.
 */
export async function waitFor<T>(
  what: string | (() => string),
  check: () => T | NotYet | Promise<T | NotYet>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) {
      const text = typeof what === 'string' ? what : what();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${text}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A short window in which something must NOT happen. Only meaningful after a barrier that proves the
 * system has caught up (a ping round trip, a sentinel message that would have arrived after the
 * unwanted one); the window then only covers what could still be in flight. Say so at the call site.
 */
export function quietPeriod(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
