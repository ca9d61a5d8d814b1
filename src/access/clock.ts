/** The clock the state machines read (the shared Clock); tests pass a fake one. */
export { systemClock, type Clock } from '../protocol/clock.ts';
