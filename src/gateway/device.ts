// One configured device: builds its request and command frames with its contract (never by hand), sends
// them over its link with timeout and retries, checks each answer (framing, checksum, that it answers
// this request) and keeps the device's health for status queries.
import type { Contract } from '../contracts/index.ts';
import type { CommandOutcome } from './command-cache.ts';
import type { DeviceConfig, PollRequest } from './config.ts';
import { LinkError, type DeviceLink } from './links/stream-link.ts';

export interface DeviceHealth {
  dev: string;
  lastPoll: number | null;
  lastOk: number | null;
  errors: number;
  consecutiveErrors: number;
  lastError: string | null;
  frames: number;
}

export interface Answer {
  raw: Uint8Array;
  ctx: Record<string, unknown>;
  fields?: Record<string, unknown>;
}

export class DeviceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeviceError';
  }
}

/** Built-in contracts can list a message's parameters (not part of the Contract interface). */
interface ParamIntrospection {
  messageParams(message: string): readonly { name: string }[];
}

/** Fields that tie an answer to its request; when both carry one, they must agree. */
const MATCH_FIELDS = ['transaction', 'unit', 'address'] as const;
/** Request parameters that only concern the link, not the meaning of the answer. */
const LINK_ONLY_PARAMS = new Set(['transaction']);

export class Device {
  readonly health: DeviceHealth;
  private transaction = 0;
  private frameSeq = 0;

  constructor(
    readonly config: DeviceConfig,
    readonly contract: Contract,
    private readonly link: DeviceLink | undefined,
    private readonly now: () => number,
  ) {
    this.health = {
      dev: config.id,
      lastPoll: null,
      lastOk: null,
      errors: 0,
      consecutiveErrors: 0,
      lastError: null,
      frames: 0,
    };
  }

  /** Per-device frame counter for the data envelope. */
  nextFrameSeq(): number {
    this.health.frames++;
    return this.frameSeq++;
  }

  /** Runs one poll request; resolves with the raw answer or throws after the last retry. */
  async poll(req: PollRequest): Promise<Answer> {
    this.health.lastPoll = this.now();
    try {
      const answer = await this.exchange(req.message, req.params, req.timeoutMs, req.retries);
      this.ok();
      const ctx: Record<string, unknown> = { req: req.name, direction: 'response' };
      for (const [k, v] of Object.entries(req.params)) if (!LINK_ONLY_PARAMS.has(k)) ctx[k] = v;
      const failure = errorOf(answer.fields);
      if (failure) this.failed(failure); // the device answered, but with an error frame: still forwarded
      return { raw: answer.raw, ctx, fields: answer.fields };
    } catch (err) {
      this.failed((err as Error).message);
      throw err;
    }
  }

  /** Executes a command: the action is a message of the device's contract. */
  async command(action: string, params: Record<string, unknown>): Promise<CommandOutcome> {
    try {
      const answer = await this.exchange(
        action,
        { ...this.config.params, ...params },
        this.config.commandTimeoutMs,
        this.config.commandRetries,
      );
      const decoded = this.decode(answer.raw, { direction: 'response', ...params });
      const result: Record<string, unknown> = { raw: Buffer.from(answer.raw).toString('hex') };
      if (decoded.ok) Object.assign(result, { fields: decoded.fields, points: decoded.points });
      const failure = errorOf(answer.fields);
      this.ok();
      if (failure) return { ok: false, error: `device refused: ${failure}`, result };
      return { ok: true, result };
    } catch (err) {
      this.failed((err as Error).message);
      return { ok: false, error: (err as Error).message };
    }
  }

  private async exchange(
    message: string,
    params: Record<string, unknown>,
    timeoutMs: number,
    retries: number,
  ): Promise<{ raw: Uint8Array; fields?: Record<string, unknown> }> {
    if (!this.link) throw new DeviceError(`${this.config.id}: a push device cannot be asked`);
    let lastError: unknown;
    for (let attempt = 0; attempt <= retries; attempt++) {
      this.transaction = (this.transaction + 1) & 0xffff;
      let frame: Uint8Array;
      try {
        frame = this.contract.encode(
          message,
          this.paramsFor(message, { ...params, transaction: this.transaction }),
        );
      } catch (err) {
        throw new DeviceError(`${this.config.id}: ${(err as Error).message}`, { cause: err });
      }
      const sent = this.decode(frame, { direction: 'request' });
      const sentFields = sent.ok ? sent.fields : {};
      let fields: Record<string, unknown> | undefined;
      try {
        const raw = await this.link.request({
          frame,
          timeoutMs,
          split: (s) => this.contract.split(s),
          accept: (answer) => {
            const got = this.decode(answer, { direction: 'response' });
            if (!got.ok) return false; // bad checksum or garbage: keep waiting, then retry
            for (const key of MATCH_FIELDS)
              if (
                sentFields[key] !== undefined &&
                got.fields[key] !== undefined &&
                sentFields[key] !== got.fields[key]
              )
                return false;
            fields = got.fields;
            return true;
          },
        });
        return { raw, fields };
      } catch (err) {
        lastError = err;
        if (!(err instanceof LinkError)) throw err;
      }
    }
    throw new DeviceError(
      `${this.config.id}: ${message} failed after ${retries + 1} attempt(s): ${(lastError as Error).message}`,
      { cause: lastError },
    );
  }

  /** Decodes a copy: the frame itself is forwarded and must stay exactly as the device sent it. */
  private decode(frame: Uint8Array, ctx: Record<string, unknown>) {
    return this.contract.decode(Uint8Array.from(frame), ctx);
  }

  /**
   * Keeps the parameters the message declares: device-wide ones (unit, address) and the link's
   * transaction id go to every message, but a contract refuses parameters it does not know.
   */
  private paramsFor(message: string, params: Record<string, unknown>): Record<string, unknown> {
    const declared = (this.contract as Partial<ParamIntrospection>).messageParams?.(message);
    if (!declared) {
      const { transaction: _link, ...rest } = params;
      return rest;
    }
    const names = new Set(declared.map((d) => d.name));
    return Object.fromEntries(Object.entries(params).filter(([k]) => names.has(k)));
  }

  private ok(): void {
    this.health.lastOk = this.now();
    this.health.consecutiveErrors = 0;
  }

  private failed(reason: string): void {
    this.health.errors++;
    this.health.consecutiveErrors++;
    this.health.lastError = reason;
  }
}

/** The error an answer frame carries (Modbus exception, DL/T 645 abnormal reply), if any. */
export function errorOf(fields: Record<string, unknown> | undefined): string | undefined {
  if (!fields) return undefined;
  if (typeof fields.exception === 'number')
    return `exception ${String(fields.exceptionName ?? fields.exception)}`;
  if (fields.error === true || typeof fields.error === 'string')
    return `error ${String(fields.errors ?? fields.errorCode ?? fields.error)}`;
  return undefined;
}
