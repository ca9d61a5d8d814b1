// Modbus TCP server: MBAP header (transaction, protocol 0, length, unit) + PDU on a TCP listener.
import { FaultInjector } from '../faults.ts';
import { serveTcp, type FrameDevice, type TcpEndpoint } from '../stream-endpoint.ts';
import { handlePdu, type ModbusUnits } from './slave.ts';

const MBAP_LENGTH = 7;
const MAX_ADU = 260;

export function modbusTcpDevice(units: ModbusUnits): FrameDevice {
  return {
    checksumFromEnd: 1, // Modbus TCP has no checksum: corrupt the last data byte instead
    extract(buf) {
      if (buf.length < MBAP_LENGTH) return { need: true };
      const length = (buf[4]! << 8) | buf[5]!;
      if (buf[2] !== 0 || buf[3] !== 0 || length < 2 || length + 6 > MAX_ADU) return { skip: 1 };
      if (buf.length < 6 + length) return { need: true };
      return { frame: buf.subarray(0, 6 + length), length: 6 + length };
    },
    answer(request) {
      const pdu = handlePdu(units, request[6]!, request.subarray(MBAP_LENGTH));
      if (!pdu) return undefined;
      const out = new Uint8Array(MBAP_LENGTH + pdu.length);
      out.set(request.subarray(0, 4), 0); // transaction id and protocol id echo the request
      out[4] = (pdu.length + 1) >> 8;
      out[5] = (pdu.length + 1) & 0xff;
      out[6] = request[6]!;
      out.set(pdu, MBAP_LENGTH);
      return out;
    },
  };
}

export type ModbusTcpServer = TcpEndpoint;

export async function startModbusTcpServer(
  units: ModbusUnits,
  options: { host?: string; port?: number; faults?: FaultInjector } = {},
): Promise<ModbusTcpServer> {
  return serveTcp(modbusTcpDevice(units), options.faults ?? new FaultInjector(), options);
}
