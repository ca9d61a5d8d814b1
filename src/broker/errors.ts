/** Typed broker errors. Each carries the MQTT 5 reason code the connection is closed with. */
import { ReasonCode } from '../protocol/reason-codes.ts';

/** A client broke the protocol: the connection is closed (v5: DISCONNECT with `reasonCode` first). */
export class ProtocolViolation extends Error {
  override readonly name: string = 'ProtocolViolation';
  constructor(
    readonly reasonCode: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Bytes that are not a valid MQTT packet (from the codec). */
export class MalformedPacket extends ProtocolViolation {
  override readonly name: string = 'MalformedPacket';
  constructor(message: string, options?: { cause?: unknown }) {
    super(ReasonCode.MalformedPacket, message, options);
  }
}

/**
/**
 * A QoS 1/2 message that no matching session could take (each was at a queue limit or the broker-wide
 * budget was used up): a v5 publisher gets PUBACK/PUBREC 0x97 Quota exceeded and may send it again.
 */
export class QuotaExceeded extends Error {
  override readonly name = 'QuotaExceeded';
}

/**
 * The one place that turns any error into a DISCONNECT reason code.
 * Codec errors are malformed packets, except the few the spec calls protocol errors.
 */
export function reasonCodeOf(err: unknown): number {
  if (err instanceof ProtocolViolation) return err.reasonCode;
  return ReasonCode.UnspecifiedError;
}

/** Codec (mqtt-packet) error → violation. */
export function fromCodecError(err: Error): ProtocolViolation {
  if (err instanceof ProtocolViolation) return err;
  const m = err.message;
  if (/protocol version/i.test(m))
    return new ProtocolViolation(ReasonCode.UnsupportedProtocolVersion, m, { cause: err });
  if (/protocolId/i.test(m))
    return new ProtocolViolation(ReasonCode.UnsupportedProtocolVersion, m, { cause: err });
  return new MalformedPacket(m, { cause: err });
}

/** A local client's handler rejected a message: it is not acknowledged to its publisher. */
export class LocalDeliveryRefused extends Error {
  override readonly name = 'LocalDeliveryRefused';
}

/** A handler's rejection marked `expected: true`: deliberate, already reported by the handler. */
export function isExpectedRefusal(err: unknown): boolean {
  return (err as { expected?: unknown } | undefined)?.expected === true;
}
