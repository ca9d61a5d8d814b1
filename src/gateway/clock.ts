// Time at the edge: the state machines take `now` as an argument; the gateway asks a Clock for it and
// for timers, so tests can substitute a fake one.

export { systemClock, type Clock, type TimerClock } from '../protocol/clock.ts';
