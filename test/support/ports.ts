// Loopback ports for tests and benchmarks.
import { readFileSync } from 'node:fs';
import net from 'node:net';

/**
 * A port that was free a moment ago, for a server that starts in another process.
 *
 * It is chosen below the kernel's ephemeral range: a port handed out by binding port 0 comes from that
 * range, and every outgoing connection in the suite takes its local port from it too, so between
 * "free" and the child's bind a client socket could take it (seen as a broker exiting with
 * EADDRINUSE under load). Ports below the range are only ever taken by explicit binds.
 */
export async function freePort(): Promise<number> {
  const [low, high] = belowEphemeralRange();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await canBind(port)) return port;
  }
  return ephemeralPort();
}

/** [first, last) ports to draw from: the 12k ports under the ephemeral range, or under 32768. */
function belowEphemeralRange(): [number, number] {
  let ephemeralLow = 32768;
  try {
    const text = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    const first = Number(text.trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > 12_000) ephemeralLow = first;
  } catch {
    // Not Linux: keep the IANA default.
  }
  return [Math.max(10_000, ephemeralLow - 12_000), ephemeralLow];
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` right now. */
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
