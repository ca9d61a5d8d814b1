// The parts of the high-availability tests that run as a user would: `mqiot cloud` instances on one
// PostgreSQL schema, a watcher of the live telemetry topics, a simulated site (`mqiot sim` and a real
// `mqiot gateway`), and what PostgreSQL holds in the end (one entry per stored frame).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { decodeSampleBlock } from '../../src/platform/store/sample-block.ts';
import { logLines, runCli, type RunningCli } from './cli.ts';
import { connectClient } from './mqtt.ts';
import { freePort } from './ports.ts';
import { PROCESS_START_MS, waitFor } from './wait.ts';

/** The devices of the simulated site: three Modbus power meters and a DL/T 645 meter. */
export const SITE_DEVICES = ['pm-1', 'pm-2', 'pm-3', 'meter-161'] as const;

/** A fresh schema name and the URL whose connections use it. */
export function pgSchema(url: string, prefix: string): { schema: string; schemaUrl: string } {
  const schema = `${prefix}_${randomBytes(5).toString('hex')}`;
  const options = encodeURIComponent(`-c search_path=${schema}`);
  return { schema, schemaUrl: `${url}${url.includes('?') ? '&' : '?'}options=${options}` };
}

/** A counter's value on a `/metrics` listener (0 when absent). */
export async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** One stored frame: its device, its frame seq and its time. */
export interface StoredFrame {
  dev: string;
  seq: number;
  ts: number;
}

/** Every frame stored in `schema` once (the readings are kept in blocks per series and hour). */
export async function storedFrames(db: pg.Client, schema: string): Promise<StoredFrame[]> {
  const blocks = await db.query<{ dev: string; body: Buffer }>(
    `SELECT s.device_id AS dev, b.body FROM ${schema}.sample_blocks b JOIN ${schema}.series s ON s.id = b.series_id`,
  );
  const frames = new Map<string, StoredFrame>();
  for (const { dev, body } of blocks.rows) {
    for (const sample of decodeSampleBlock(body)) {
      const key = `${dev}\u0000${sample.seq}`;
      const seen = frames.get(key);
      if (!seen || sample.ts < seen.ts) frames.set(key, { dev, seq: sample.seq, ts: sample.ts });
    }
  }
  return [...frames.values()];
}

/** Waits until the CLI logged `message` (a child that exits first fails the wait with its output). */
export function loggedRunning(cli: RunningCli, message: string): Promise<true> {
  return waitFor(
    () => `"${message}": ${cli.stderr()}${cli.stdout().slice(-3000)}`,
    () => {
      if (cli.child.exitCode !== null) throw new Error(`exited: ${cli.stderr()}${cli.stdout()}`);
      return logLines(cli.stdout()).some((l) => l.msg === message) || undefined;
    },
    PROCESS_START_MS,
  );
}

/** One `mqiot cloud` instance on `brokerUrl` and the PostgreSQL URL, with a metrics listener; running. */
export async function startCloudInstance(
  procs: RunningCli[],
  options: { name: string; brokerUrl: string; postgresUrl: string; env?: Record<string, string> },
): Promise<{ cli: RunningCli; metricsPort: number }> {
  const metricsPort = await freePort();
  const cli = runCli(
    [
      'cloud',
      ...['--broker', options.brokerUrl, '--postgres', options.postgresUrl, '--instance-id', options.name],
      ...['--http-host', '127.0.0.1', '--http-port', '0', '--metrics-port', String(metricsPort)],
      ...['--unknown-gateways', 'register', '--heartbeat-ms', '5000'],
    ],
    options.env,
  );
  procs.push(cli);
  await loggedRunning(cli, 'mqiot cloud: running');
  return { cli, metricsPort };
}

/** Counts how often each frame (`dev#seq`) appears on the live telemetry topics of `brokerUrl`. */
export async function watchTelemetry(brokerUrl: string): Promise<Map<string, number>> {
  const telemetry = new Map<string, number>();
  const watcher = await connectClient(brokerUrl, { clientId: 'live-watcher' });
  await watcher.subscribeAsync('mqiot/dev/+/telemetry', { qos: 1 });
  watcher.on('message', (_topic, payload) => {
    const m = JSON.parse(payload.toString()) as { dev: string; seq: number };
    const key = `${m.dev}#${m.seq}`;
    telemetry.set(key, (telemetry.get(key) ?? 0) + 1);
  });
  after(() => watcher.end(true));
  return telemetry;
}

/**
 * The simulated site: `mqiot sim` serving SITE_DEVICES, and `mqiot gateway` polling them every 250 ms
 * and publishing to `brokerUrl`, its disk queue at `dir`/q.db. `queue` adds to the gateway's queue
 * settings (YAML flow mapping entries).
 */
export async function startSimulatedSite(
  procs: RunningCli[],
  options: { dir: string; gatewayId: string; brokerUrl: string; queue?: string },
): Promise<{ sim: RunningCli; gateway: RunningCli; queuePath: string }> {
  const sim = runCli(['sim', '--modbus-tcp', '0', '--dlt645-tcp', '0', '--units', '1,2,3']);
  procs.push(sim);
  const ready = await waitFor(
    'sim ready',
    () => /\{"ready":true[^\n]*\}/.exec(sim.stdout())?.[0],
    PROCESS_START_MS,
  );
  const ports = JSON.parse(ready) as { modbusTcpPort: number; dlt645Port: number };
  const modbus = (unit: number) => `
  - id: pm-${unit}
    contract: modbus-tcp
    transport: { type: tcp, host: 127.0.0.1, port: ${ports.modbusTcpPort} }
    params: { unit: ${unit} }
    poll: [{ message: read-holding-registers, params: { start: 0, count: 4 }, everyMs: 250 }]`;
  const config = join(options.dir, 'gw.yaml');
  writeFileSync(
    config,
    `gateway: { id: ${options.gatewayId} }
mqtt: { urls: ['${options.brokerUrl}'], reconnectMs: 200 }
batching: { windowMs: 250 }
queue: { path: ./q.db${options.queue ? `, ${options.queue}` : ''} }
devices:${modbus(1)}${modbus(2)}${modbus(3)}
  - id: meter-161
    contract: dlt645-2007
    transport: { type: tcp, host: 127.0.0.1, port: ${ports.dlt645Port} }
    params: { address: '000000000161' }
    poll: [{ message: read, params: { di: '02010100' }, everyMs: 250 }]
`,
  );
  const gateway = runCli(['gateway', '--config', config, '--log-level', 'warn']);
  procs.push(gateway);
  return { sim, gateway, queuePath: join(options.dir, 'q.db') };
}
