// Downlink dispatch (docs/protocol.md): one message from `mqiot/gw/{id}/down` decoded, checked to be
// for this gateway, and handed to the handler of its kind. A message that cannot be decoded is counted
// and logged by the caller; one for another gateway is ignored.
import {
  decodeEnvelope,
  type CatalogRequestEnvelope,
  type CmdEnvelope,
  type DataAckEnvelope,
  type DownlinkEnvelope,
  type HeartbeatEnvelope,
  type QueryEnvelope,
} from '../protocol/envelope.ts';

export interface DownlinkHandlers {
  heartbeat(msg: HeartbeatEnvelope): void;
  cmd(msg: CmdEnvelope): void;
  query(msg: QueryEnvelope): void;
  reportAck(seq: number): void;
  dataAck(msg: DataAckEnvelope): void;
  /** The platform asks for the text of contracts or models the birth's catalog named. */
  catalogRequest(msg: CatalogRequestEnvelope): void;
  /** The payload is not a valid envelope. */
  bad(err: Error): void;
}

/** Returns whether a message for this gateway was handled. */
export function dispatchDownlink(payload: Buffer, gatewayId: string, on: DownlinkHandlers): boolean {
  let msg: DownlinkEnvelope;
  try {
    msg = decodeEnvelope(payload) as DownlinkEnvelope;
  } catch (err) {
    on.bad(err as Error);
    return false;
  }
  if (msg.gw !== gatewayId) return false;
  switch (msg.k) {
    case 'heartbeat':
      on.heartbeat(msg);
      break;
    case 'cmd':
      on.cmd(msg);
      break;
    case 'query':
      on.query(msg);
      break;
    case 'report-ack':
      on.reportAck(msg.ack);
      break;
    case 'data-ack':
      on.dataAck(msg);
      break;
    case 'catalog-request':
      on.catalogRequest(msg);
      break;
  }
  return true;
}
