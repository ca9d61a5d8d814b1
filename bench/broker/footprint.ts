// Where an idle connection's memory goes: runs the broker in this process (so it can collect garbage
// before measuring, which the side-by-side run in run.ts cannot), holds N idle connections from a
// generator process (keep alive 60, one subscription each, half MQTT 3.1.1, half MQTT 5), and prints
// RSS and live JavaScript heap per connection, and beside them a plain `net` server holding the same
// sockets (the floor any Node.js broker stands on). `--snapshot FILE` also writes a heap snapshot
// (open it in Chrome DevTools, Memory tab, and compare by constructor).
//
//   node --expose-gc --import tsx bench/broker/footprint.ts --connections 5000 [--snapshot /tmp/b.heapsnapshot]
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeHeapSnapshot } from 'node:v8';
import { pino, type Logger } from 'pino';
import { Broker } from '../../src/broker/broker.ts';
import { listenTcp } from '../../src/broker/server/tcp.ts';
import type { Role } from './load.ts';
import { connectClient } from '../../test/support/mqtt.ts';

const LOAD_SCRIPT = join(import.meta.dirname, 'load.ts');
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Figures {
  rss: number;
  /** Live JavaScript objects. */
  heap: number;
  /** Heap the engine holds from the system (live objects, free space in its pages, new space). */
  heapTotal: number;
}

function measure(): Figures {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, heapTotal: m.heapTotal };
}

/** Connects `clients` idle clients to `port` from a generator process; resolves with a stop function. */
async function holdIdle(port: number, clients: number): Promise<() => Promise<void>> {
  const role: Role = { role: 'idle', port, clients };
  const child = spawn(process.execPath, ['--import', 'tsx', LOAD_SCRIPT, JSON.stringify(role)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m: { type: string }) => m.type === 'ready' && resolve());
    child.once('exit', () => reject(new Error('idle generator exited early')));
  });
  return async () => {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill();
    await exited;
  };
}

async function perConnection(
  clients: number,
  listen: () => Promise<{ port: number; close: () => Promise<void> }>,
  snapshot?: string,
): Promise<Figures> {
  const server = await listen();
  await sleep(200);
  const before = measure();
  const stop = await holdIdle(server.port, clients);
  await sleep(1000);
  const after = measure();
  if (snapshot) writeHeapSnapshot(snapshot);
  await stop();
  await server.close();
  return {
    rss: (after.rss - before.rss) / clients,
    heap: (after.heap - before.heap) / clients,
    heapTotal: (after.heapTotal - before.heapTotal) / clients,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string' },
      snapshot: { type: 'string' },
      subscriptions: { type: 'string' },
    },
  });
  const clients = Number(values.connections ?? 5000);
  const logger = pino({ level: 'warn' });

  // the plain server: accepts, reads, answers CONNACK and SUBACK so the generator goes on
  const floor = await perConnection(clients, async () => {
    const connack = Buffer.from([0x20, 0x02, 0x00, 0x00]);
    const suback = Buffer.from([0x90, 0x03, 0x00, 0x01, 0x01]);
    const server: Server = createServer((s: Socket) => {
      s.setNoDelay(true);
      s.on('data', (d: Buffer) => {
        // the generator only looks at the packet type: a CONNACK and a SUBACK are enough
        if (d[0] === 0x10) s.write(connack);
        else if ((d[0]! & 0xf0) === 0x80) s.write(suback);
      });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      port: (server.address() as { port: number }).port,
      close: () => new Promise<void>((r) => server.close(() => r())),
    };
  });

  const ours = await perConnection(
    clients,
    async () => {
      const broker = new Broker({}, { logger });
      const l = await listenTcp(broker, '127.0.0.1', 0, logger);
      return {
        port: l.port,
        close: async () => {
          l.stopAccepting();
          await broker.close();
          await l.drain(1000);
        },
      };
    },
    values.snapshot,
  );
  const kib = (n: number) => (n / 1024).toFixed(2);
  console.log(`| ${clients} idle connections, after GC | mqiot broker | plain net server |`);
  console.log('| --- | --- | --- |');
  console.log(`| RSS per connection, KiB | ${kib(ours.rss)} | ${kib(floor.rss)} |`);
  console.log(`| live JS heap per connection, KiB | ${kib(ours.heap)} | ${kib(floor.heap)} |`);
  console.log(`| JS heap held per connection, KiB | ${kib(ours.heapTotal)} | ${kib(floor.heapTotal)} |`);
  const more = await perSubscriptionAndMessage(Number(values.subscriptions ?? 20_000), logger);
  console.log('');
  console.log(`| one offline persistent session, heap after GC | per item, KiB |`);
  console.log('| --- | --- |');
  console.log(`| subscription (distinct five-level filters) | ${kib(more.subscription)} |`);
  console.log(`| queued QoS 1 message (distinct ~25-byte topics, 64-byte payload) | ${kib(more.message)} |`);
  console.log(`| the same message queued for one more session (fan-out of 10) | ${kib(more.fanOut)} |`);
  process.exit(0);
}

/**
 * Heap per subscription (one session subscribing to `n` distinct filters), per message queued for it
 * while offline, and per extra session a message is queued for (ten sessions on one filter).
 */
async function perSubscriptionAndMessage(
  n: number,
  logger: Logger,
): Promise<{ subscription: number; message: number; fanOut: number }> {
  const broker = new Broker({ maxQueuedBytesTotal: 0 }, { logger });
  const l = await listenTcp(broker, '127.0.0.1', 0, logger);
  const url = `mqtt://127.0.0.1:${l.port}`;
  const filter = (i: number) => `site${i % 100}/dev${i}/sensor/+/set`;
  const c = await connectClient(url, { clientId: 'footprint-subs', clean: false });
  const base = measure();
  for (let i = 0; i < n; i += 500) {
    await c.subscribeAsync(
      Array.from({ length: Math.min(500, n - i) }, (_, k) => filter(i + k)),
      { qos: 1 },
    );
  }
  const subscribed = measure();
  await c.endAsync();
  const offline = measure();
  const payload = Buffer.alloc(64, 1);
  for (let i = 0; i < n; i++) broker.publish({ topic: filter(i).replace('+', 't'), payload, qos: 1 });
  const queued = measure();
  if (broker.stats.queuedMessages !== n) throw new Error(`queued ${broker.stats.queuedMessages} of ${n}`);
  // fan-out: ten offline sessions on one filter, then n messages to it
  const fans = [];
  for (let k = 0; k < 10; k++) {
    const f = await connectClient(url, { clientId: `footprint-fan-${k}`, clean: false });
    await f.subscribeAsync('fan/out', { qos: 1 });
    fans.push(f);
  }
  for (const f of fans) await f.endAsync();
  const fanBase = measure();
  for (let i = 0; i < n / 10; i++) broker.publish({ topic: 'fan/out', payload, qos: 1 });
  const fanned = measure();
  l.stopAccepting();
  await broker.close();
  await l.drain(1000);
  const oneSession = (fanned.heap - fanBase.heap) / (n / 10); // one message, ten sessions
  return {
    subscription: (subscribed.heap - base.heap) / n,
    message: (queued.heap - offline.heap) / n,
    fanOut: oneSession / 10,
  };
}

await main();
