// Idempotency keys of a rule's firings and of the commands they send. The edge and the cloud see the
// same readings (the edge forwards every uplink), so both derive the same key from the same cause: the
// rule and the reading that triggered it (device, point, device time). A key, not a time of arrival,
// decides "already acted on", so a reading replayed after an outage maps to the firing it caused.
import { createHash } from 'node:crypto';

export interface FiringCause {
  rule: string;
  /** The triggering device (or gateway, for presence rules). */
  device: string;
  /** The point compared, or the presence op. */
  point: string;
  /** Device time of the triggering reading (ms). */
  ts: number;
}

/** `f-` and 32 hex digits of SHA-256 over the cause: short, fixed length, safe in ids and topics. */
export function firingKey(cause: FiringCause): string {
  const text = JSON.stringify([cause.rule, cause.device, cause.point, cause.ts]);
  return `f-${createHash('sha256').update(text).digest('hex').slice(0, 32)}`;
}

/**
 * The id of the command that action number `index` of a firing sends. A command id is the gateway's
 * idempotency key (docs/protocol.md, `cmd`), so the same firing's command sent by the edge and by the
 * cloud is executed once.
 */
export function firingCommandId(key: string, index: number): string {
  return `cmd-${key}-${index}`;
}
