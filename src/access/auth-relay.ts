// Enhanced authentication (MQTT 5 §4.12) through the access module, as a pure state machine.
//
// A client holds one AUTH conversation; behind the module are two brokers that each want one. One
// broker drives: the first whose challenge (AUTH 0x18) arrives. Its challenges go to the client and
// the client's answers come back to it, as if the module were not there. The other broker follows in
// lockstep: its challenge of step i is answered with the client's answer of step i only when it is
// byte for byte the driver's challenge of step i — the client answered that question, so the answer
// fits. A challenge that differs (a method with per-connection nonces), or one beyond the steps the
// client went through, is a question the client was never asked: the module cannot answer it and
// gives that broker up for this session (the client runs on the driver alone, without a standby).
// After the CONNACK the conversation is kept, and a link that reconnects later is answered the same
// way from it (a replay), since the client cannot be asked again: only it may start an AUTH.
import type { Upstream } from './failover.ts';

export interface AuthRelayPorts {
  /** AUTH 0x18 to the client with the driver's challenge. */
  toClient(data: Buffer | undefined): void;
  /** AUTH 0x18 to a broker with the client's answer. */
  toBroker(upstream: Upstream, data: Buffer | undefined): void;
  /** This broker asked what the client was not asked: its link cannot authenticate. */
  cannotAnswer(upstream: Upstream, why: string): void;
}

interface Held {
  step: number;
  data: Buffer | undefined;
}

function sameBytes(a: Buffer | undefined, b: Buffer | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.equals(b);
}

export class AuthRelay {
  private driverOf: Upstream | null = null;
  /** The client is in the exchange (no CONNACK sent yet). */
  private live = true;
  /** The driver accepted or refused: it asks nothing more. */
  private driverDone = false;
  private readonly challenges: (Buffer | undefined)[] = [];
  private readonly answers: (Buffer | undefined)[] = [];
  private readonly held: [Held | undefined, Held | undefined] = [undefined, undefined];

  constructor(
    readonly method: string,
    private readonly ports: AuthRelayPorts,
  ) {}

  /** The broker whose challenges the client answers (null until one challenges). */
  get driver(): Upstream | null {
    return this.driverOf;
  }

  /** Whether the client has answered every challenge sent to it. */
  get awaitingClient(): boolean {
    return this.live && this.answers.length < this.challenges.length;
  }

  /** A broker's challenge: AUTH 0x18, the `step`-th of its current connection (from 0). */
  challenge(upstream: Upstream, step: number, data: Buffer | undefined): void {
    if (this.live && !this.driverDone && (this.driverOf === null || this.driverOf === upstream)) {
      if (this.driverOf === null) this.driverOf = upstream;
      if (step === this.challenges.length) {
        this.challenges.push(data);
        this.ports.toClient(data);
        this.follow(other(upstream));
        return;
      }
    }
    this.held[upstream] = { step, data };
    this.follow(upstream);
  }

  /** The client's answer: AUTH 0x18. False when no challenge waits for one (a protocol error). */
  answer(data: Buffer | undefined): boolean {
    if (!this.awaitingClient || this.driverOf === null) return false;
    this.answers.push(data);
    this.ports.toBroker(this.driverOf, data);
    this.follow(other(this.driverOf));
    return true;
  }

  /** A broker sent its CONNACK (accepted or refused): it asks nothing more on this connection. */
  concluded(upstream: Upstream): void {
    this.held[upstream] = undefined;
    if (upstream === this.driverOf && this.live) {
      this.driverDone = true;
      this.follow(other(upstream)); // a follower ahead of the driver now asks too much
    }
  }

  /** The CONNACK went to the client: from now on every conversation is a replay. */
  finish(): void {
    this.live = false;
    for (const u of [0, 1] as const) this.follow(u);
  }

  private follow(upstream: Upstream): void {
    const h = this.held[upstream];
    if (h === undefined) return;
    if (h.step >= this.challenges.length) {
      // the driver has not asked this yet; once it cannot any more, nobody will answer it
      if (!this.live || this.driverDone) this.giveUp(upstream, 'more steps than the client went through');
      return;
    }
    if (!sameBytes(h.data, this.challenges[h.step])) return this.giveUp(upstream, 'a different challenge');
    if (h.step >= this.answers.length) {
      if (!this.live) this.giveUp(upstream, 'a step the client did not answer');
      return; // the client has not answered yet
    }
    this.held[upstream] = undefined;
    this.ports.toBroker(upstream, this.answers[h.step]);
  }

  private giveUp(upstream: Upstream, why: string): void {
    this.held[upstream] = undefined;
    this.ports.cannotAnswer(upstream, why);
  }
}

function other(upstream: Upstream): Upstream {
  return (1 - upstream) as Upstream;
}

export interface ReauthPorts extends AuthRelayPorts {
  /** The driving broker accepted (AUTH 0x00): the client gets AUTH 0x00 with this data. */
  succeeded(data: Buffer | undefined): void;
  /** The driving broker refused (its DISCONNECT's reason): the client is disconnected with it. */
  failed(reasonCode: number): void;
}

/**
 * Re-authentication (MQTT 5 §4.12.1): the client starts a new conversation on a connected session
 * with AUTH 0x19, which goes to every broker whose link is up. It runs as the first one (an AuthRelay:
 * one broker drives, the other follows in lockstep), and ends for the client with the driver's word:
 * AUTH 0x00, or its DISCONNECT. A broker that accepts in one step, before any challenge, drives. A
 * follower that refuses, or asks what the client was not asked, is given up for the session — its
 * link would otherwise come back with the old credentials. Pure: the session carries out the ports.
 */
export class Reauthentication {
  readonly relay: AuthRelay;
  private readonly steps: [number, number] = [0, 0];
  private readonly pending: Set<Upstream>;
  private outcome: 'running' | 'succeeded' | 'failed' = 'running';

  constructor(
    method: string,
    asked: readonly Upstream[],
    private readonly ports: ReauthPorts,
  ) {
    this.relay = new AuthRelay(method, ports);
    this.pending = new Set(asked);
  }

  /** The client has its answer (AUTH 0x00 or DISCONNECT): a new AUTH 0x19 may start another. */
  get done(): boolean {
    return this.outcome !== 'running';
  }

  /** Whether this broker was asked and has not concluded yet. */
  waitsFor(upstream: Upstream): boolean {
    return this.pending.has(upstream);
  }

  /** A broker's AUTH 0x18 during the re-authentication. */
  challenge(upstream: Upstream, data: Buffer | undefined): void {
    if (!this.pending.has(upstream)) return this.ports.cannotAnswer(upstream, 'AUTH out of turn');
    this.relay.challenge(upstream, this.steps[upstream]++, data);
  }

  /** The client's AUTH 0x18. False when no challenge waits for one (a protocol error). */
  answer(data: Buffer | undefined): boolean {
    return this.outcome === 'running' && this.relay.answer(data);
  }

  /** A broker's AUTH 0x00. */
  success(upstream: Upstream, data: Buffer | undefined): void {
    if (!this.pending.delete(upstream)) return;
    const driver = this.relay.driver;
    this.relay.concluded(upstream);
    if (this.outcome !== 'running' || (driver !== null && driver !== upstream)) return;
    this.outcome = 'succeeded';
    this.relay.finish();
    this.ports.succeeded(data);
  }

  /** A broker ended the link during the re-authentication (DISCONNECT `reasonCode`, or a lost link). */
  failure(upstream: Upstream, reasonCode: number): void {
    if (!this.pending.delete(upstream)) return;
    const driver = this.relay.driver;
    if (this.outcome === 'running' && (driver === null || driver === upstream)) {
      this.outcome = 'failed';
      this.ports.failed(reasonCode);
      return;
    }
    this.ports.cannotAnswer(upstream, `re-authentication refused (0x${reasonCode.toString(16)})`);
  }
}
