// A TCP relay in front of a broker that a test can freeze (a link gone silent) and thaw.
import net from 'node:net';

/**
 * A TCP relay in front of a broker that can be frozen: it then stops forwarding in both directions
 * without closing anything — a link gone silent (pulled cable, dead NAT entry).
 */
export class Relay {
  private readonly server: net.Server;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private readonly sockets = new Set<net.Socket>();
  frozen = false;
  port = 0;

  constructor(private readonly targetPort: number) {
    this.server = net.createServer((client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      client.on('error', () => {});
      if (this.frozen) return; // accepted but never answered: silent
      const upstream = net.connect({ host: '127.0.0.1', port: this.targetPort });
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.pairs.add(pair);
      client.on('data', (d) => {
        if (!this.frozen) upstream.write(d);
      });
      upstream.on('data', (d) => {
        if (!this.frozen) client.write(d);
      });
      const end = () => {
        if (this.frozen) return; // silent: do not pass on the close either
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('close', end);
      upstream.on('close', end);
      client.on('error', () => {});
      upstream.on('error', () => {});
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Client connections to the relay still open. */
  get openConnections(): number {
    return this.sockets.size;
  }

  freeze(): void {
    this.frozen = true;
  }

  /** Thaws: drops the frozen connections (as a real network would after the outage) and relays anew. */
  thaw(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    for (const s of this.sockets) s.destroy();
    this.frozen = false;
  }

  async close(): Promise<void> {
    this.frozen = false;
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
