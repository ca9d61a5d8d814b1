/** DISCONNECT from the client (MQTT 5.0 §3.14). */
import type { IDisconnectPacket } from 'mqtt-packet';
import { ReasonCode } from '../../protocol/reason-codes.ts';
import type { HandlerContext } from './context.ts';
import { ProtocolViolation } from '../errors.ts';

export function handleDisconnect(ch: HandlerContext, p: IDisconnectPacket): void {
  const session = ch.session!;
  const expiry = ch.v5 ? p.properties?.sessionExpiryInterval : undefined;
  if (expiry !== undefined) {
    // [MQTT-3.14.2-2] a session that ended with the connection cannot be prolonged here
    if (session.expiryInterval === 0 && expiry !== 0) {
      throw new ProtocolViolation(
        ReasonCode.ProtocolError,
        'session expiry set in DISCONNECT after 0 in CONNECT',
      );
    }
    session.expiryInterval = Math.min(expiry, ch.engine.options.maxSessionExpiry);
  }
  // [MQTT-3.14.4-3] a normal DISCONNECT discards the will; 0x04 asks for it to be sent
  ch.normalDisconnect = (p.reasonCode ?? 0) !== ReasonCode.DisconnectWithWillMessage;
  ch.close();
}
