// The one place where errors become HTTP: domain codes map to statuses, Fastify's own 4xx errors
// (validation, bad JSON, wrong media type) get stable codes too, and anything else is a 500.
import { PlatformError, PlatformErrorCode } from '../errors.ts';

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

const STATUS_BY_CODE: Record<PlatformErrorCode, number> = {
  [PlatformErrorCode.NotFound]: 404,
  [PlatformErrorCode.InvalidInput]: 400,
  [PlatformErrorCode.Conflict]: 409,
  [PlatformErrorCode.ContractInvalid]: 422,
  [PlatformErrorCode.ContractTestsFailed]: 422,
  [PlatformErrorCode.ModelInvalid]: 422,
  [PlatformErrorCode.ModelTestsFailed]: 422,
  [PlatformErrorCode.GatewayUnknown]: 409,
  [PlatformErrorCode.DeviceNotActive]: 409,
  [PlatformErrorCode.StoreFailure]: 500,
  [PlatformErrorCode.Unauthorized]: 401,
  [PlatformErrorCode.Forbidden]: 403,
  [PlatformErrorCode.RateLimited]: 429,
};

export const HttpErrorCode = {
  BadRequest: 'bad_request',
  UnsupportedMediaType: 'unsupported_media_type',
  PayloadTooLarge: 'payload_too_large',
  Internal: 'internal',
  HostNotAllowed: 'host_not_allowed',
  CrossSiteRequest: 'cross_site_request',
} as const;

const FASTIFY_STATUS_CODES: Record<number, string> = {
  404: PlatformErrorCode.NotFound,
  413: HttpErrorCode.PayloadTooLarge,
  415: HttpErrorCode.UnsupportedMediaType,
};

export function toHttpError(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof PlatformError) {
    const status = STATUS_BY_CODE[err.code] ?? 500;
    const details = err.details === undefined ? {} : { details: err.details };
    return { status, body: { error: { code: err.code, message: err.message, ...details } } };
  }
  const e = err as { validation?: unknown; statusCode?: number; message?: string };
  if (e?.validation) {
    const message = withAllowedValues(e.message ?? 'invalid input', e.validation);
    return { status: 400, body: { error: { code: PlatformErrorCode.InvalidInput, message } } };
  }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code = FASTIFY_STATUS_CODES[e.statusCode] ?? HttpErrorCode.BadRequest;
    return { status: e.statusCode, body: { error: { code, message: e.message ?? 'bad request' } } };
  }
  return { status: 500, body: { error: { code: HttpErrorCode.Internal, message: 'internal error' } } };
}

/**
 * Ajv says only "must be equal to one of the allowed values"; a caller needs to know which, so the
 * values of the first `enum` failure are added to the message.
 */
function withAllowedValues(message: string, validation: unknown): string {
  if (!Array.isArray(validation)) return message;
  const failure = (validation as { keyword?: string; params?: { allowedValues?: unknown } }[]).find(
    (v) => v.keyword === 'enum' && Array.isArray(v.params?.allowedValues),
  );
  if (!failure) return message;
  const allowed = (failure.params!.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ');
  return `${message}: ${allowed}`;
}
