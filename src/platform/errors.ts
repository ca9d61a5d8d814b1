// Domain errors of the platform. Each carries a stable code; `http/errors.ts` is the one place that
// turns a code into an HTTP status and body.
export const PlatformErrorCode = {
  NotFound: 'not_found',
  InvalidInput: 'invalid_input',
  Conflict: 'conflict',
  ContractInvalid: 'contract_invalid',
  ContractTestsFailed: 'contract_tests_failed',
  GatewayUnknown: 'gateway_unknown',
  DeviceNotActive: 'device_not_active',
  StoreFailure: 'store_failure',
} as const;
export type PlatformErrorCode = (typeof PlatformErrorCode)[keyof typeof PlatformErrorCode];

export class PlatformError extends Error {
  readonly code: PlatformErrorCode;
  readonly details?: unknown;
  constructor(code: PlatformErrorCode, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options);
    this.name = 'PlatformError';
    this.code = code;
    this.details = options?.details;
  }
}

export class NotFoundError extends PlatformError {
  constructor(what: string, id: string) {
    super(PlatformErrorCode.NotFound, `${what} '${id}' not found`);
    this.name = 'NotFoundError';
  }
}

export class StoreError extends PlatformError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(PlatformErrorCode.StoreFailure, message, options);
    this.name = 'StoreError';
  }
}
