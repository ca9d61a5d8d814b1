// Modbus RTU slave on a serial line (or any byte stream): unit id + PDU + CRC-16/MODBUS, several units
// sharing one bus. A request for a unit we do not simulate gets no answer, as on a real RS-485 bus.
import type { Duplex } from 'node:stream';
import { crc16Modbus } from '../checksum.ts';
import { FaultInjector } from '../faults.ts';
import { serveStream, type FrameDevice } from '../stream-endpoint.ts';
import { handlePdu, rtuRequestLength, type ModbusUnits } from './slave.ts';

export function modbusRtuDevice(units: ModbusUnits): FrameDevice {
  return {
    checksumFromEnd: 1,
    extract(buf) {
      const length = rtuRequestLength(buf);
      if (length === undefined || buf.length < length) return { need: true };
      const crc = crc16Modbus(buf, length - 2);
      if (buf[length - 2] !== (crc & 0xff) || buf[length - 1] !== crc >> 8) return { skip: 1 }; // noise: resync
      return { frame: buf.subarray(0, length), length };
    },
    answer(request) {
      const pdu = handlePdu(units, request[0]!, request.subarray(1, request.length - 2));
      if (!pdu) return undefined;
      const out = new Uint8Array(pdu.length + 3);
      out[0] = request[0]!;
      out.set(pdu, 1);
      const crc = crc16Modbus(out, out.length - 2);
      out[out.length - 2] = crc & 0xff;
      out[out.length - 1] = crc >> 8;
      return out;
    },
  };
}

export interface StreamSlave {
  readonly faults: FaultInjector;
  readonly requests: number;
  stop(): void;
}

export function serveModbusRtu(
  stream: Duplex,
  units: ModbusUnits,
  faults = new FaultInjector(),
): StreamSlave {
  let requests = 0;
  const stop = serveStream(stream, modbusRtuDevice(units), faults, () => requests++);
  return {
    faults,
    get requests() {
      return requests;
    },
    stop,
  };
}
