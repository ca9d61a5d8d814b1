// A broker in its own process, either kind, behind one face: Debian's Mosquitto or `mqiot broker`.
// Each can be crashed (SIGKILL) or stopped (SIGTERM) and started again on the same port.
import { MqiotBrokerProcess } from './cli.ts';
import { Mosquitto } from './mosquitto.ts';
import { freePort } from './ports.ts';

export type BrokerKind = 'mosquitto' | 'mqiot';

export interface ProcessBroker {
  readonly kind: BrokerKind;
  readonly port: number;
  start(): Promise<void>;
  /** SIGKILL: a crash. SIGTERM: a graceful stop (v5 clients get DISCONNECT 0x8B). */
  stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  dispose(): Promise<void>;
}

export async function startProcessBroker(kind: BrokerKind): Promise<ProcessBroker> {
  if (kind === 'mosquitto') return Mosquitto.start();
  const b = new MqiotBrokerProcess(await freePort());
  await b.start();
  return b;
}
