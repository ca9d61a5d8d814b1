// An experiment, not product code: what an idle connection costs in Node below `net.Socket`. It holds N
// idle MQTT connections (load.ts's idle clients: keep alive 60, one subscription each) twice, each
// server in a fresh process of its own: a plain `net` server, and bare TCP handles from the internal
// `process.binding('tcp_wrap')` (accept, readStart, answer CONNACK and SUBACK; no stream, no event
// emitter, no buffers kept). It prints RSS growth and live heap per connection, from start and between
// N/2 and N held, so we know what any broker built on each could reach (docs/broker.md, "Memory per
// connection"). process.binding is deprecated and undocumented: fine for a measurement, not for a broker.
//
//   node --expose-gc bench/broker/below-socket.mjs [--connections 10000]
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const LOAD = fileURLToPath(new URL('./load.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONNACK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const SUBACK = Buffer.from([0x90, 0x03, 0x00, 0x01, 0x01]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
if (globalThis.gc === undefined) throw new Error('run with node --expose-gc');

/** The reply the idle generator waits for: it only looks at the packet type. */
const replyTo = (first) => (first === 0x10 ? CONNACK : (first & 0xf0) === 0x80 ? SUBACK : undefined);

async function netServer() {
  const server = createServer((s) => {
    s.setNoDelay(true);
    s.on('data', (d) => {
      const reply = replyTo(d[0]);
      if (reply) s.write(reply);
    });
    s.on('error', () => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { port: server.address().port, close: () => new Promise((r) => server.close(r)) };
}

function handleServer() {
  process.emitWarning = () => {}; // process.binding's deprecation warning
  const { TCP, constants } = process.binding('tcp_wrap');
  const { WriteWrap, kReadBytesOrError, streamBaseState } = process.binding('stream_wrap');
  const handles = new Set();
  const done = () => {};
  // one shared read callback: the handle is `this`
  function onread(arrayBuffer) {
    const n = streamBaseState[kReadBytesOrError];
    if (n < 0) {
      handles.delete(this);
      this.close();
      return;
    }
    const reply = replyTo(new Uint8Array(arrayBuffer, 0, n)[0]);
    if (reply === undefined) return;
    const req = new WriteWrap();
    req.handle = this;
    req.oncomplete = done;
    req.async = false;
    this.writeBuffer(req, reply);
  }
  const server = new TCP(constants.SERVER);
  server.bind('127.0.0.1', 0);
  server.onconnection = (status, client) => {
    if (status !== 0) return;
    client.onread = onread;
    client.setNoDelay(true);
    client.readStart();
    handles.add(client);
  };
  const err = server.listen(511);
  if (err !== 0) throw new Error(`listen: ${err}`);
  const address = {};
  server.getsockname(address);
  return {
    port: address.port,
    close: async () => {
      for (const h of handles) h.close();
      server.close();
    },
  };
}

function usage() {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage();
}

/** Connects `clients` idle clients from a load process; resolves once they are connected and subscribed. */
async function holdIdle(port, clients) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', LOAD, JSON.stringify({ role: 'idle', port, clients })],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      cwd: ROOT,
    },
  );
  const held = await new Promise((resolve, reject) => {
    child.on('message', (m) => m.type === 'ready' && resolve(m.held ?? 0));
    child.once('exit', () => reject(new Error('idle generator exited early')));
  });
  return {
    held,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill();
      await exited;
    },
  };
}

async function measure(server, n) {
  await sleep(200);
  const start = usage();
  const first = await holdIdle(server.port, Math.floor(n / 2));
  await sleep(1000);
  const half = usage();
  const second = await holdIdle(server.port, n - Math.floor(n / 2));
  await sleep(1000);
  const full = usage();
  await first.stop();
  await second.stop();
  await server.close();
  const held = first.held + second.held;
  return {
    held,
    rss: (full.rss - start.rss) / held,
    rssMarginal: (full.rss - half.rss) / second.held,
    heap: (full.heapUsed - start.heapUsed) / held,
    heapMarginal: (full.heapUsed - half.heapUsed) / second.held,
  };
}

const { values } = parseArgs({ options: { connections: { type: 'string' }, server: { type: 'string' } } });
const n = Number(values.connections ?? 10_000);
if (values.server !== undefined) {
  // one server in this process: the figures go to the parent
  const result = await measure(values.server === 'net' ? await netServer() : handleServer(), n);
  process.send?.(result);
  process.exit(0);
}
/** Runs one server kind in a fresh process (memory one freed is not reused by the other). */
function inChild(server) {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(
    process.execPath,
    ['--expose-gc', self, '--server', server, '--connections', String(n)],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  return new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => code !== 0 && reject(new Error(`${server} run exited with ${code}`)));
  });
}
const net = await inChild('net');
const raw = await inChild('handle');
const kib = (x) => (x / 1024).toFixed(2);
console.log(`| ${n} idle connections, after GC, KiB per connection | net.Socket | bare TCP handle |`);
console.log('| --- | --- | --- |');
console.log(`| connections held | ${net.held} | ${raw.held} |`);
console.log(`| RSS growth from start / N | ${kib(net.rss)} | ${kib(raw.rss)} |`);
console.log(`| RSS, marginal (N/2 to N held) | ${kib(net.rssMarginal)} | ${kib(raw.rssMarginal)} |`);
console.log(`| live JS heap / N | ${kib(net.heap)} | ${kib(raw.heap)} |`);
console.log(`| live JS heap, marginal | ${kib(net.heapMarginal)} | ${kib(raw.heapMarginal)} |`);
