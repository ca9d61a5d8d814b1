// The client's CONNECT as the brokers see it, and the merged CONNACK as the client sees it: pure
// rules, applied by ClientSession when a client connects.
import { randomBytes } from 'node:crypto';
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import { ConnectReturnCode } from '../protocol/reason-codes.ts';

/** The client id both brokers get: the client's own, or one the module assigns for both. */
export type ClientIdChoice = { clientId: string; assigned: boolean } | { refuse: number };

export function chooseClientId(packet: IConnectPacket, v5: boolean): ClientIdChoice {
  if (packet.clientId !== '') return { clientId: packet.clientId, assigned: false };
  // [MQTT-3.1.3-8] an empty id needs CleanSession = 1 in 3.1.1
  if (!v5 && !packet.clean) return { refuse: ConnectReturnCode.IdentifierRejected };
  // One id for both brokers (each would assign a different one) [MQTT-3.1.3-6]
  return { clientId: `mqiot-access-${randomBytes(8).toString('hex')}`, assigned: true };
}

/** The CONNECT sent to both brokers. */
export function upstreamConnectOf(packet: IConnectPacket, clientId: string, v5: boolean): IConnectPacket {
  const upstreamConnect: IConnectPacket = { ...packet, clientId };
  if (v5) {
    const properties = { ...packet.properties };
    // Both brokers may send at once: each gets half of what the client can take [MQTT-3.3.4-9].
    properties.receiveMaximum = Math.max(1, Math.floor((packet.properties?.receiveMaximum ?? 65535) / 2));
    delete properties.topicAliasMaximum; // no aliases from the brokers: we forward their bytes as they are
    upstreamConnect.properties = properties;
  }
  return upstreamConnect;
}

/** The merged CONNACK of an accepted client, adjusted in place to what the module offers. */
export function offerToClient(
  connack: IConnackPacket,
  v5: boolean,
  maxInflight: number,
  assignedClientId: string | undefined,
): void {
  if (!v5) return;
  const props = connack.properties!;
  props.receiveMaximum = Math.min(props.receiveMaximum ?? 65535, maxInflight);
  if (assignedClientId !== undefined) props.assignedClientIdentifier = assignedClientId; // [MQTT-3.2.2-16]
}

/** A CONNACK refusing the client with `code` (a v5 reason code, or a 3.1.1 return code). */
export function refusal(code: number, v5: boolean): IConnackPacket {
  const connack: IConnackPacket = { cmd: 'connack', sessionPresent: false };
  if (v5) connack.reasonCode = code;
  else connack.returnCode = code;
  return connack;
}
