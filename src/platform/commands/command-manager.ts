// Control commands and status queries as a pure state machine (docs/protocol.md, `cmd`/`query`). It takes events
// (submit, answer, time passing) and returns effects (send, save); the platform's edge publishes and
// stores them and arms one timer at nextDeadline(). No sockets and no real time here.
import { CommandKind, CommandState, type CommandRecord, type CommandTransition } from '../store/types.ts';

export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;
/** A status query waits 30 s for its answer before it is resent (docs/protocol.md). */
export const DEFAULT_QUERY_TIMEOUT_MS = 30_000;
/** After 3 timeouts a command or query is declared failed and dropped (docs/protocol.md). */
export const MAX_TIMEOUTS = 3;

export interface CommandManagerConfig {
  commandTimeoutMs: number;
  queryTimeoutMs: number;
  maxTimeouts: number;
}
export const DEFAULT_COMMAND_MANAGER_CONFIG: Readonly<CommandManagerConfig> = Object.freeze({
  commandTimeoutMs: DEFAULT_COMMAND_TIMEOUT_MS,
  queryTimeoutMs: DEFAULT_QUERY_TIMEOUT_MS,
  maxTimeouts: MAX_TIMEOUTS,
});

export interface CommandRequest {
  id: string;
  kind: CommandKind;
  gatewayId: string;
  deviceId: string | null;
  action: string;
  params: Record<string, unknown>;
  /** Who asked for it (a user name, `rule:<id>`); kept on the record. */
  requestedBy?: string | null;
}

/** The gateway's feedback, already unwrapped from its envelope. */
export type CommandAnswer =
  | { kind: 'cmd-result'; id: string; ok: boolean; result?: unknown; error?: string; cached?: boolean }
  | { kind: 'status'; id: string; complete: boolean; status: unknown; error?: string };

export type CommandEffect =
  /** Publish the command (or query) on the gateway's downlink; `record.attempts` is this try's number. */
  | { type: 'send'; record: CommandRecord }
  /** Persist the record (every state change). */
  | { type: 'save'; record: CommandRecord };

export const FINAL_STATES: ReadonlySet<CommandState> = new Set([
  CommandState.Executed,
  CommandState.Acknowledged,
  CommandState.Failed,
]);

interface InFlight {
  record: CommandRecord;
  deadline: number;
}

export class CommandManager {
  readonly #config: Readonly<CommandManagerConfig>;
  readonly #inFlight = new Map<string, InFlight>();

  constructor(config: Partial<CommandManagerConfig> = {}) {
    this.#config = Object.freeze({ ...DEFAULT_COMMAND_MANAGER_CONFIG, ...config });
    for (const [key, value] of Object.entries(this.#config)) {
      if (!Number.isInteger(value) || value <= 0)
        throw new RangeError(`commands.${key} must be a positive integer`);
    }
  }

  get config(): Readonly<CommandManagerConfig> {
    return this.#config;
  }

  timeoutOf(kind: CommandKind): number {
    return this.#timeout(kind);
  }

  #timeout(kind: CommandKind): number {
    return kind === CommandKind.Query ? this.#config.queryTimeoutMs : this.#config.commandTimeoutMs;
  }

  /** pending → sent (attempt 1). */
  submit(request: CommandRequest, now: number): CommandEffect[] {
    if (this.#inFlight.has(request.id)) throw new RangeError(`command '${request.id}' is already in flight`);
    const pending: CommandRecord = {
      ...request,
      state: CommandState.Pending,
      attempts: 0,
      createdAt: now,
      updatedAt: now,
      result: null,
      error: null,
      history: [{ state: CommandState.Pending, at: now }],
    };
    const sent = transition(pending, { state: CommandState.Sent, at: now, attempt: 1 }, { attempts: 1 });
    this.#inFlight.set(request.id, { record: sent, deadline: now + this.#timeout(request.kind) });
    return [
      { type: 'save', record: pending },
      { type: 'send', record: sent },
      { type: 'save', record: sent },
    ];
  }

  /**
   * Feedback from the gateway. A command's result ends it `executed` (ok) or `failed` (the device
   * refused or did not answer the gateway); a query's status ends it `executed` when complete and
   * `acknowledged` when the gateway sent "not completed" information. Answers for unknown or finished
   * ids (late duplicates) change nothing.
   */
  onAnswer(answer: CommandAnswer, now: number): CommandEffect[] {
    const entry = this.#inFlight.get(answer.id);
    if (!entry) return [];
    this.#inFlight.delete(answer.id);
    return [{ type: 'save', record: settle(entry.record, answer, now) }];
  }

  /** Another platform instance settled this command (shared ingest): stop retrying it here. */
  forget(id: string): void {
    this.#inFlight.delete(id);
  }

  /**
   * Time passed: every command whose deadline is reached has timed out once. Below the limit it is
   * sent again (same id, so the gateway's idempotency cache keeps it from running twice); at the
   * limit it is `failed` and dropped.
   */
  tick(now: number): CommandEffect[] {
    const effects: CommandEffect[] = [];
    for (const [id, entry] of this.#inFlight) {
      if (entry.deadline > now) continue;
      const { record } = entry;
      const timedOut = transition(record, {
        state: CommandState.TimedOut,
        at: now,
        attempt: record.attempts,
      });
      if (record.attempts >= this.#config.maxTimeouts) {
        this.#inFlight.delete(id);
        const failed = transition(
          timedOut,
          { state: CommandState.Failed, at: now, detail: { timeouts: record.attempts } },
          {
            error: `no answer after ${record.attempts} attempts`,
          },
        );
        effects.push({ type: 'save', record: failed });
        continue;
      }
      const attempt = record.attempts + 1;
      const resent = transition(
        timedOut,
        { state: CommandState.Sent, at: now, attempt },
        { attempts: attempt },
      );
      this.#inFlight.set(id, { record: resent, deadline: now + this.#timeout(record.kind) });
      effects.push({ type: 'send', record: resent }, { type: 'save', record: resent });
    }
    return effects;
  }

  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const { deadline } of this.#inFlight.values())
      if (next === undefined || deadline < next) next = deadline;
    return next;
  }

  get(id: string): CommandRecord | undefined {
    return this.#inFlight.get(id)?.record;
  }

  get inFlightCount(): number {
    return this.#inFlight.size;
  }
}

function transition(
  record: CommandRecord,
  step: CommandTransition,
  changes: Partial<Pick<CommandRecord, 'attempts' | 'result' | 'error'>> = {},
): CommandRecord {
  return {
    ...record,
    ...changes,
    state: step.state,
    updatedAt: step.at,
    history: [...record.history, step],
  };
}

/**
 * The record after the gateway's answer. Pure, so that an instance that did not send the command
 * (shared subscriptions spread uplinks over instances) can settle the stored record the same way.
 */
export function settle(record: CommandRecord, answer: CommandAnswer, now: number): CommandRecord {
  if (answer.kind === 'cmd-result') {
    const state = answer.ok ? CommandState.Executed : CommandState.Failed;
    const detail = {
      ok: answer.ok,
      result: answer.result ?? null,
      error: answer.error ?? null,
      cached: !!answer.cached,
    };
    return transition(
      record,
      { state, at: now, detail },
      {
        result: answer.result ?? null,
        error: answer.ok ? null : (answer.error ?? 'gateway reported failure'),
      },
    );
  }
  const state = answer.complete ? CommandState.Executed : CommandState.Acknowledged;
  const detail = { complete: answer.complete, error: answer.error ?? null };
  return transition(
    record,
    { state, at: now, detail },
    {
      result: answer.status ?? null,
      error: answer.complete ? null : (answer.error ?? 'query not completed'),
    },
  );
}
