/**
 * Wills and session expiry (MQTT 5.0 §3.1.2.5, §3.1.3.2.2): when a connection ends, its will goes
 * out at once or after the Will Delay Interval, and a persistent session ends after its expiry
 * interval unless its client comes back first [MQTT-3.1.3-9].
 */
import { unrefTimer, type TimerClock } from '../protocol/clock.ts';
import type { Session } from './session.ts';
import type { Message, Will } from './types.ts';

const NEVER = 0xffffffff;
/** Timers hold at most 2^31-1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What the timers need: the time, and how to publish a will and end a session. */
export interface WillsAndExpiryDeps {
  readonly clock: TimerClock;
  publish(message: Message): void;
  endSession(session: Session): void;
}

export class WillsAndExpiry {
  constructor(private readonly deps: WillsAndExpiryDeps) {}

  /**
   * The connection of a session that outlives it has ended: its will (unless discarded) goes out
   * now or after its delay, capped by the session's expiry; the session's expiry starts.
   */
  connectionEnded(session: Session, will: Will | undefined, disconnectedAt: number): void {
    if (will !== undefined) {
      const delay = Math.min(will.delay, session.expiryInterval);
      if (delay === 0) this.publishWill(will);
      else {
        session.pendingWill = will;
        session.willTimer = this.deps.clock.setTimeout(
          () => {
            session.willTimer = undefined;
            const w = session.pendingWill;
            session.pendingWill = undefined;
            if (w !== undefined) this.publishWill(w);
          },
          Math.min(delay * 1000, MAX_TIMER_MS),
        );
        unrefTimer(session.willTimer);
      }
    }
    this.scheduleExpiry(session, disconnectedAt);
  }

  /** The session ends `expiryInterval` seconds after `disconnectedAt` unless a client is attached by then. */
  scheduleExpiry(session: Session, disconnectedAt: number): void {
    if (session.expiryInterval === NEVER) return;
    const clock = this.deps.clock;
    const endsAt = disconnectedAt + session.expiryInterval * 1000;
    const arm = (): void => {
      // long expiries re-arm until the end is reached
      const left = Math.min(Math.max(0, endsAt - clock.now()), MAX_TIMER_MS);
      session.expiryTimer = clock.setTimeout(() => {
        session.expiryTimer = undefined;
        if (session.link !== null) return;
        if (endsAt > clock.now()) arm();
        else this.deps.endSession(session);
      }, left);
      unrefTimer(session.expiryTimer);
    };
    arm();
  }

  /** A client is back (or the session ends, or the broker stops): no expiry, no delayed will timer. */
  cancel(session: Session): void {
    const clock = this.deps.clock;
    if (session.expiryTimer !== undefined) clock.clearTimeout(session.expiryTimer);
    if (session.willTimer !== undefined) clock.clearTimeout(session.willTimer);
    session.expiryTimer = undefined;
    session.willTimer = undefined;
  }

  /** Publishes a will; its message expiry counts from now. */
  publishWill(will: Will): void {
    const expiry = will.expiryInterval;
    this.deps.publish({
      ...will.message,
      expiresAt: expiry > 0 ? this.deps.clock.now() + expiry * 1000 : 0,
    });
  }
}
