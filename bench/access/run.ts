// Access module benchmark: latency and throughput through the module against a direct connection,
// failover time (Broker1's death → first message acknowledged by Broker2), memory per proxied client.
// Run: node --expose-gc --import tsx bench/access/run.ts [--quick] [--only latency|failover|silent|memory]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { AccessProxy, parseAccessOptions } from '../../src/access/index.ts';
import { Mosquitto } from '../../test/support/mosquitto.ts';
import { canConnect, freePort } from '../../test/support/ports.ts';
import { Relay } from '../../test/support/relay.ts';
import { waitFor } from '../../test/support/wait.ts';

const quick = process.argv.includes('--quick');
// --only latency|failover|silent|memory runs one part.
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const want = (part: string) => only === undefined || only === part;
const ROUND_TRIPS = quick ? 300 : 2000;
const THROUGHPUT_MS = quick ? 1000 : 2000;
const FAILOVERS = quick ? 5 : 20;
const SILENT_FAILOVERS = quick ? 3 : 10;
const SILENT_KEEPALIVE = 1;
const CLIENTS = quick ? 100 : 500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const median = (xs: number[]) => pct(xs, 50);
const f = (n: number) => n.toFixed(3);

async function roundTrips(port: number, qos: 0 | 1): Promise<number[]> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
  await c.subscribeAsync('bench/rt', { qos });
  await sleep(100);
  const out: number[] = [];
  let resolveOne: (() => void) | undefined;
  c.on('message', () => resolveOne?.());
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t0 = process.hrtime.bigint();
    const got = new Promise<void>((r) => (resolveOne = r));
    c.publish('bench/rt', 'x', { qos });
    await got;
    if (i >= 50) out.push(Number(process.hrtime.bigint() - t0) / 1e6); // after warm-up
  }
  await c.endAsync();
  return out;
}

async function throughput(port: number): Promise<number> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
  let acked = 0;
  const end = Date.now() + THROUGHPUT_MS;
  const payload = Buffer.alloc(64, 1);
  let inflight = 0;
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (inflight < 200 && Date.now() < end) {
        inflight++;
        c.publish('bench/tp', payload, { qos: 1 }, () => {
          inflight--;
          acked++;
          if (Date.now() < end) pump();
          else if (inflight === 0) resolve();
        });
      }
    };
    pump();
  });
  await c.endAsync();
  return acked / (THROUGHPUT_MS / 1000);
}

async function latencyAndThroughput(): Promise<void> {
  const b1 = await Mosquitto.start();
  const b2 = await Mosquitto.start();
  const proxy = new AccessProxy(
    parseAccessOptions({
      listenHost: '127.0.0.1',
      listenPort: 0,
      broker1: `mqtt://127.0.0.1:${b1.port}`,
      broker2: `mqtt://127.0.0.1:${b2.port}`,
    }),
  );
  const { port } = await proxy.listen();
  for (const qos of [0, 1] as const) {
    const direct = await roundTrips(b1.port, qos);
    const via = await roundTrips(port, qos);
    console.log(
      `round trip QoS ${qos} (publish → same client receives), ms: direct p50 ${f(median(direct))} p99 ${f(pct(direct, 99))}; ` +
        `via module p50 ${f(median(via))} p99 ${f(pct(via, 99))}; added p50 ${f(median(via) - median(direct))} ` +
        `(the message crosses the module twice: up and down)`,
    );
  }
  const tDirect = await throughput(b1.port);
  const tVia = await throughput(port);
  console.log(
    `throughput QoS 1, 64 B, 200 in flight, one client: direct ${tDirect.toFixed(0)} msg/s, via module ${tVia.toFixed(0)} msg/s`,
  );
  await proxy.close();
  await b1.dispose();
  await b2.dispose();
}

/** Publishes QoS 1 every 2 ms through the module; returns the time from `fault()` to the first ack from Broker2. */
async function failoverTimes(kind: 'kill' | 'silent', count: number): Promise<number[]> {
  const b1 = await Mosquitto.start();
  const b2 = await Mosquitto.start();
  const relay = new Relay(b1.port);
  await relay.start();
  const proxy = new AccessProxy(
    parseAccessOptions({
      listenHost: '127.0.0.1',
      listenPort: 0,
      broker1: `mqtt://127.0.0.1:${kind === 'silent' ? relay.port : b1.port}`,
      broker2: `mqtt://127.0.0.1:${b2.port}`,
      upstreamKeepAlive: kind === 'silent' ? SILENT_KEEPALIVE : 10,
      failbackHoldMs: 200,
      backoffBaseMs: 20,
      backoffCapMs: 100,
    }),
  );
  const { port } = await proxy.listen();
  const c: MqttClient = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
  const times: number[] = [];
  let faultAt = 0;
  let firstOnB2 = 0;
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      c.publish('bench/fo', 'x', { qos: 1 }, () => {
        if (faultAt > 0 && firstOnB2 === 0 && proxy.counters.acknowledged[1] > 0)
          firstOnB2 = performance.now();
      });
      await sleep(2);
    }
  })();
  for (let i = 0; i < count; i++) {
    await waitFor('Broker1 active', () => [...proxy.sessions][0]?.active === 0, 10_000);
    await sleep(100);
    proxy.counters.acknowledged[1] = 0;
    firstOnB2 = 0;
    faultAt = performance.now();
    if (kind === 'kill') await b1.stop('SIGKILL');
    else relay.freeze();
    await waitFor('first ack from Broker2', () => firstOnB2 > 0, 10_000);
    times.push(firstOnB2 - faultAt);
    faultAt = 0;
    if (kind === 'kill') await b1.start();
    else relay.thaw();
  }
  stop = true;
  await loop;
  await c.endAsync();
  await proxy.close();
  await relay.close();
  await b1.dispose();
  await b2.dispose();
  return times;
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

async function connectRaw(port: number, i: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port });
  const connack = new Promise<void>((r) => s.once('data', () => r()));
  s.write(
    mqttPacket.generate({
      cmd: 'connect',
      clientId: `mem-${i}`,
      protocolVersion: 4,
      clean: true,
      keepalive: 0,
    }),
  );
  s.write(
    mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `mem/${i}/#`, qos: 1 }] }),
  );
  await connack;
  return s;
}

/** JS heap per proxied client, in-process (needs node --expose-gc); includes the bench's own client socket. */
async function heapPerClient(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    console.log('heap per client: skipped (run node with --expose-gc)');
    return;
  }
  const b1 = await Mosquitto.start();
  const b2 = await Mosquitto.start();
  const proxy = new AccessProxy(
    parseAccessOptions({
      listenHost: '127.0.0.1',
      listenPort: 0,
      broker1: `mqtt://127.0.0.1:${b1.port}`,
      broker2: `mqtt://127.0.0.1:${b2.port}`,
    }),
  );
  const { port } = await proxy.listen();
  const sockets: net.Socket[] = [];
  for (let i = 0; i < 20; i++) sockets.push(await connectRaw(port, i));
  await sleep(300);
  gc();
  const before = process.memoryUsage();
  for (let i = 20; i < 20 + CLIENTS; i++) sockets.push(await connectRaw(port, i));
  await sleep(500);
  gc();
  const after = process.memoryUsage();
  const kb = (a: number, b: number) => ((b - a) / CLIENTS / 1024).toFixed(1);
  console.log(
    `heap per proxied client (in-process, ${CLIENTS} clients): JS heap ${kb(before.heapUsed, after.heapUsed)} KB, ` +
      `buffers ${kb(before.arrayBuffers, after.arrayBuffers)} KB`,
  );
  for (const s of sockets) s.destroy();
  await proxy.close();
  await b1.dispose();
  await b2.dispose();
}

async function memoryPerClient(): Promise<void> {
  const b1 = await Mosquitto.start();
  const b2 = await Mosquitto.start();
  const port = await freePort();
  const bin = fileURLToPath(new URL('../../bin/mqiot.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [
      bin,
      'access',
      '--host',
      '127.0.0.1',
      '--listen',
      String(port),
      '--broker1',
      `mqtt://127.0.0.1:${b1.port}`,
      '--broker2',
      `mqtt://127.0.0.1:${b2.port}`,
      '--log-level',
      'warn',
    ],
    { stdio: 'ignore' },
  );
  await waitFor('module', () => canConnect(port), 20_000);
  await sleep(500);
  const before = rssKb(child.pid!);
  const sockets: net.Socket[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const s = net.connect({ host: '127.0.0.1', port });
    const connack = new Promise<void>((r) => s.once('data', () => r()));
    s.write(
      mqttPacket.generate({
        cmd: 'connect',
        clientId: `mem-${i}`,
        protocolVersion: 4,
        clean: true,
        keepalive: 0,
      }),
    );
    s.write(
      mqttPacket.generate({
        cmd: 'subscribe',
        messageId: 1,
        subscriptions: [{ topic: `mem/${i}/#`, qos: 1 }],
      }),
    );
    await connack;
    sockets.push(s);
  }
  await sleep(1000);
  const after = rssKb(child.pid!);
  console.log(
    `memory: ${CLIENTS} clients (each with sessions on both brokers and one subscription): RSS ${(before / 1024).toFixed(1)} → ${(after / 1024).toFixed(1)} MB, ` +
      `${((after - before) / CLIENTS).toFixed(1)} KB per proxied client`,
  );
  for (const s of sockets) s.destroy();
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  await b1.dispose();
  await b2.dispose();
}

if (want('latency')) await latencyAndThroughput();
if (want('failover')) {
  const kill = await failoverTimes('kill', FAILOVERS);
  console.log(
    `failover on socket close (SIGKILL), ${kill.length} runs, ms: median ${f(median(kill))}, worst ${f(Math.max(...kill))} (target < 1000)`,
  );
}
if (want('silent')) {
  const silent = await failoverTimes('silent', SILENT_FAILOVERS);
  console.log(
    `failover on silence (keep-alive ${SILENT_KEEPALIVE} s), ${silent.length} runs, ms: median ${f(median(silent))}, worst ${f(Math.max(...silent))} (target < ${1500 * SILENT_KEEPALIVE})`,
  );
}
if (want('memory')) {
  await memoryPerClient();
  await heapPerClient();
}
