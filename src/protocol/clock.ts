/**
 * Time, for every component: injected so that tests can move it by hand. A component that only
 * reads the time takes a `Clock`; one that also runs timers (keep alive, will delay, session expiry,
 * polling, retries) takes a `TimerClock`.
 */

/** Reads the time: milliseconds since the epoch, as Date.now(). */
export interface Clock {
  now(): number;
}

/** A clock that also runs timers. A handle is opaque: only clearTimeout and unrefTimer take it. */
export interface TimerClock extends Clock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** What a timer handle may offer: Node's timers can be unref'd (they must not keep a process up). */
export interface TimerHandle {
  unref?(): unknown;
}

/** Lets the process end while this timer is pending, when the clock's handles support it. */
export function unrefTimer(handle: unknown): void {
  (handle as TimerHandle | undefined)?.unref?.();
}

/** The real time and Node's timers. */
export const systemClock: TimerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
