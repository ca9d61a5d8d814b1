/** A contract document is invalid, or an encode request does not fit the contract. `path` names the place. */
export class ContractError extends Error {
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(path ? `${path}: ${message}` : message, options);
    this.name = 'ContractError';
    this.path = path;
  }
}

/** Reason codes of failed decodes: the first word of `error.reason`. */
export const DecodeReason = {
  truncated: 'truncated',
  checksum: 'checksum',
  framing: 'framing',
  invalid: 'invalid',
  length: 'length',
} as const;
export type DecodeReason = (typeof DecodeReason)[keyof typeof DecodeReason];

/**
 * Thrown inside the compiled decoder and caught by `decode`, which turns it into `{ ok: false }`.
 * Not an Error subclass on purpose: no stack trace is captured on the hot failure path.
 */
export class DecodeFailure {
  readonly offset: number;
  readonly reason: string;
  constructor(offset: number, code: DecodeReason, detail: string) {
    this.offset = offset;
    this.reason = `${code}: ${detail}`;
  }
}
