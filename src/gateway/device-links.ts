// The device side's sockets: one request/response link per serial line or TCP endpoint (devices on the
// same RS-485 bus or behind the same Modbus TCP gateway take turns), one listener per push device.
import type { Duplex } from 'node:stream';
import type { Contract } from '../contracts/index.ts';
import type { DeviceConfig } from './config.ts';
import { listenTcp, listenUdp, type PushListener } from './links/push-listener.ts';
import { openSerial } from './links/serial.ts';
import { StreamLink, tcpOpener, type DeviceLink } from './links/stream-link.ts';

export type OpenSerial = (path: string, baudRate: number) => Promise<Duplex>;

export class DeviceLinks {
  readonly listenerPorts = new Map<string, number>();
  private readonly links = new Map<string, DeviceLink>();
  private readonly listeners: PushListener[] = [];

  constructor(private readonly open: OpenSerial = openSerial) {}

  /** The link to poll `dc` over, or undefined for a push device (its frames go to `onPushed`). */
  async linkFor(
    dc: DeviceConfig,
    contract: Contract,
    onPushed: (raw: Buffer) => void,
  ): Promise<DeviceLink | undefined> {
    const t = dc.transport;
    if (t.type === 'udp-listen' || t.type === 'tcp-listen') {
      const listener =
        t.type === 'udp-listen'
          ? await listenUdp(t.host, t.port, onPushed)
          : await listenTcp(t.host, t.port, (s) => contract.split(s), onPushed);
      this.listeners.push(listener);
      this.listenerPorts.set(dc.id, listener.port);
      return undefined;
    }
    const key = t.type === 'serial' ? `serial:${t.path}` : `tcp:${t.host}:${t.port}`;
    let link = this.links.get(key);
    if (!link) {
      link =
        t.type === 'serial'
          ? new StreamLink(key, () => this.open(t.path, t.baudRate))
          : new StreamLink(key, tcpOpener(t.host, t.port));
      this.links.set(key, link);
    }
    return link;
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.close()));
    await Promise.all(this.listeners.map((l) => l.close()));
  }
}
