// Public shapes of the Contracts API (docs/contracts.md). Other components import these.

export interface Point {
  name: string;
  value: number | string | boolean;
  unit?: string;
}

export type DecodeResult =
  | { ok: true; fields: Record<string, unknown>; points: Point[] }
  | { ok: false; error: { offset: number; reason: string } };

/** One frame found in a byte stream, or how many more bytes are needed, or how many to drop. */
export type SplitResult =
  { frame: Uint8Array; start: number; end: number } | { need: number } | { skip: number };

export interface ContractTestCase {
  name: string;
  ok: boolean;
  message?: string;
}

export interface ContractTestReport {
  contract: string;
  passed: number;
  failed: number;
  cases: ContractTestCase[];
}

export interface Contract {
  readonly id: string;
  readonly version: string;
  readonly name?: string;
  /** Names of the messages `encode` knows, e.g. 'read-holding-registers'. */
  readonly messages: readonly string[];
  decode(frame: Uint8Array, context?: Record<string, unknown>): DecodeResult; // never throws
  encode(message: string, params: Record<string, unknown>): Uint8Array; // throws ContractError on bad params
  detect(frame: Uint8Array): boolean;
  split(stream: Uint8Array): SplitResult;
  runTests(): ContractTestReport;
  /** The parameters a message declares (name, type, default), so callers can pass only those. */
  messageParams?(message: string): readonly { name: string; type: string; default?: unknown }[];
}
