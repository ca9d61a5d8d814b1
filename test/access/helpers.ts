// Test helpers for the access module: real Mosquitto brokers, a freezable TCP relay, free ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A Debian Mosquitto on 127.0.0.1 and a given (or free) port; restartable on the same port. */
export class Mosquitto {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'mqiot-access-mosq-'));
  constructor(
    readonly port: number,
    private readonly extra: string[] = [],
  ) {}

  /** @param extra more mosquitto.conf lines (e.g. a bridge, or `allow_anonymous false`) */
  static async start(port?: number, extra: string[] = []): Promise<Mosquitto> {
    const m = new Mosquitto(port ?? (await freePort()), extra);
    await m.start();
    return m;
  }

  async start(): Promise<void> {
    const conf = join(this.dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      [
        `listener ${this.port} 127.0.0.1`,
        ...(this.extra.some((l) => l.startsWith('allow_anonymous')) ? [] : ['allow_anonymous true']),
        'persistence false',
        'max_inflight_messages 0',
        'max_queued_messages 100000',
        'log_dest none',
        ...this.extra,
        '',
      ].join('\n'),
    );
    this.child = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
    await waitFor(() => canConnect(this.port), 10_000, `mosquitto on ${this.port}`);
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL (crash) or SIGTERM (graceful stop: v5 clients get DISCONNECT 0x8B). */
  async stop(signal: 'SIGKILL' | 'SIGTERM' = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await exited;
    this.child = undefined;
  }

  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

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
