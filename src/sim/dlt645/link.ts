// DL/T 645 meters on one link: several meters (addresses) share a serial bus or a TCP connection.
import type { Duplex } from 'node:stream';
import { FaultInjector } from '../faults.ts';
import { serveStream, serveTcp, type FrameDevice } from '../stream-endpoint.ts';
import type { Dlt645Meter } from './meter.ts';

/** Frames are cut by the first meter (all share the framing); the addressed meter answers. */
export function dlt645Bus(meters: readonly Dlt645Meter[]): FrameDevice {
  const first = meters[0]!;
  return {
    checksumFromEnd: first.checksumFromEnd,
    extract: (buf) => first.extract(buf),
    answer(request) {
      for (const meter of meters) {
        const answer = meter.answer(request);
        if (answer) return answer;
      }
      return undefined;
    },
  };
}

export interface Dlt645Link {
  readonly faults: FaultInjector;
  readonly requests: number;
  /** TCP listener port (TCP links only). */
  readonly port?: number;
  close(): Promise<void>;
}

export function serveDlt645Stream(
  stream: Duplex,
  meters: readonly Dlt645Meter[],
  faults = new FaultInjector(),
): Dlt645Link & { stop(): void } {
  let requests = 0;
  const stop = serveStream(stream, dlt645Bus(meters), faults, () => requests++);
  return {
    faults,
    get requests() {
      return requests;
    },
    stop,
    close: async () => stop(),
  };
}

export async function startDlt645TcpServer(
  meters: readonly Dlt645Meter[],
  options: { host?: string; port?: number; faults?: FaultInjector } = {},
): Promise<Dlt645Link> {
  return serveTcp(dlt645Bus(meters), options.faults ?? new FaultInjector(), options);
}
