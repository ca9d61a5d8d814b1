import { PlatformError, PlatformErrorCode } from '../errors.ts';

/** Milliseconds since the epoch, or an ISO 8601 date-time. */
export function parseTime(value: string | undefined, field: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const ms = /^-?\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) {
    throw new PlatformError(
      PlatformErrorCode.InvalidInput,
      `${field}: not a time (ms since epoch or ISO 8601): '${value}'`,
    );
  }
  return ms;
}

/** Bucket sizes like 500ms, 30s, 5m, 1h, 1d, or plain milliseconds. */
export function parseDuration(value: string, field: string): number {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(value);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
  const ms = match ? Number(match[1]) * unit[(match[2] ?? 'ms') as keyof typeof unit] : NaN;
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new PlatformError(
      PlatformErrorCode.InvalidInput,
      `${field}: not a duration (e.g. 500ms, 30s, 5m, 1h, 1d): '${value}'`,
    );
  }
  return ms;
}
