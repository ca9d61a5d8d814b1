/** AUTH (MQTT 5.0 §3.15, §4.12): continue enhanced authentication, or re-authenticate. */
import type { IAuthPacket } from 'mqtt-packet';
import { ReasonCode } from '../../protocol/reason-codes.ts';
import type { HandlerContext } from './context.ts';
import { ConnectionState } from '../types.ts';
import { ProtocolViolation } from '../errors.ts';
import { runAuthStep } from './connect.ts';

export function handleAuth(ch: HandlerContext, p: IAuthPacket): void {
  const method = p.properties?.authenticationMethod;
  // [MQTT-4.12.0-5] the method must stay the one from CONNECT
  if (ch.authMethod === undefined || method !== ch.authMethod) {
    throw new ProtocolViolation(ReasonCode.ProtocolError, 'AUTH without matching authentication method');
  }
  if (ch.state === ConnectionState.Authenticating) {
    if (p.reasonCode !== ReasonCode.ContinueAuthentication) {
      throw new ProtocolViolation(ReasonCode.ProtocolError, 'AUTH reason during authentication');
    }
    runAuthStep(ch, p.properties?.authenticationData);
    return;
  }
  // re-authentication of a connected client
  if (p.reasonCode !== ReasonCode.ReAuthenticate && p.reasonCode !== ReasonCode.ContinueAuthentication) {
    throw new ProtocolViolation(ReasonCode.ProtocolError, 'unexpected AUTH reason');
  }
  // a re-authentication is a new conversation: the method sees its steps from 0 again
  if (p.reasonCode === ReasonCode.ReAuthenticate) ch.authStep = 0;
  const hook = ch.engine.hooks.extendedAuth!;
  const req = {
    ...ch.info,
    password: undefined,
    authenticationMethod: method,
    authenticationData: p.properties?.authenticationData,
  };
  Promise.resolve(hook(req, ch.authStep++)).then(
    (s) => {
      if (ch.state === ConnectionState.Closed) return;
      if ('reasonCode' in s) ch.disconnect(s.reasonCode, s.reasonString);
      else {
        const properties: Record<string, unknown> = { authenticationMethod: method };
        if (s.authenticationData !== undefined) properties.authenticationData = s.authenticationData;
        ch.send({
          cmd: 'auth',
          reasonCode: s.done ? ReasonCode.Success : ReasonCode.ContinueAuthentication,
          properties,
        });
      }
    },
    () => ch.disconnect(ReasonCode.NotAuthorized),
  );
}
