// Modbus TCP server: MBAP header (transaction, protocol 0, length, unit) + PDU on a TCP listener.
import net from 'node:net';
import { FaultInjector } from '../faults.ts';
import { serveStream, type FrameDevice } from '../stream-endpoint.ts';
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

export interface ModbusTcpServer {
  readonly port: number;
  readonly faults: FaultInjector;
  readonly requests: number;
  close(): Promise<void>;
}

export async function startModbusTcpServer(
  units: ModbusUnits,
  options: { host?: string; port?: number; faults?: FaultInjector } = {},
): Promise<ModbusTcpServer> {
  const faults = options.faults ?? new FaultInjector();
  const device = modbusTcpDevice(units);
  const sockets = new Set<net.Socket>();
  let requests = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    const stop = serveStream(socket, device, faults, () => requests++);
    socket.on('close', () => {
      stop();
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    faults,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
