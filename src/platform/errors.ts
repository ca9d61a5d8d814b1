// Domain errors of the platform. Each carries a stable code; `http/errors.ts` is the one place that
// turns a code into an HTTP status and body.
export const PlatformErrorCode = {
  NotFound: 'not_found',
  InvalidInput: 'invalid_input',
  Conflict: 'conflict',
  ContractInvalid: 'contract_invalid',
  ContractTestsFailed: 'contract_tests_failed',
  ModelInvalid: 'model_invalid',
  ModelTestsFailed: 'model_tests_failed',
  GatewayUnknown: 'gateway_unknown',
  DeviceNotActive: 'device_not_active',
  StoreFailure: 'store_failure',
  Unauthorized: 'unauthorized',
  Forbidden: 'forbidden',
  RateLimited: 'rate_limited',
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

/** No credentials, or credentials that are wrong, expired or revoked (HTTP 401). */
export class UnauthorizedError extends PlatformError {
  constructor(message = 'sign in first: send Authorization: Bearer <token>') {
    super(PlatformErrorCode.Unauthorized, message);
    this.name = 'UnauthorizedError';
  }
}

/** Signed in, but the role may not do this (HTTP 403). */
export class ForbiddenError extends PlatformError {
  constructor(message: string) {
    super(PlatformErrorCode.Forbidden, message);
    this.name = 'ForbiddenError';
  }
}

/** Too many attempts; the caller may try again after `retryAfterMs` (HTTP 429 with Retry-After). */
export class RateLimitedError extends PlatformError {
  constructor(readonly retryAfterMs: number) {
    super(
      PlatformErrorCode.RateLimited,
      `too many failed attempts; try again in ${Math.ceil(retryAfterMs / 1000)} s`,
    );
    this.name = 'RateLimitedError';
  }
}
