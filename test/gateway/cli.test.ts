// Black box: `mqiot sim` and `mqiot gateway --config FILE` started as a user would, Mosquitto in between.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakePlatform } from './helpers.ts';
import { startMosquitto } from '../support/broker.ts';
import { makeTempDir } from '../support/temp.ts';
import { PROCESS_START_MS, waitFor } from '../support/wait.ts';

const BIN = new URL('../../bin/mqiot.js', import.meta.url).pathname;

function mqiot(args: string[]): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, out: () => out, exited };
}

test('cli: mqiot sim + mqiot gateway --config deliver data; SIGTERM says goodbye with a will', async (t) => {
  const broker = await startMosquitto();
  const tmp = makeTempDir();
  const sim = mqiot(['sim', '--modbus-tcp', '0', '--dlt645-tcp', '0', '--units', '1']);
  t.after(async () => {
    sim.child.kill('SIGKILL');
    await sim.exited;
    await broker.stop();
    tmp.cleanup();
  });
  const ready = await waitFor(
    'sim ready',
    () => /\{"ready":true[^\n]*\}/.exec(sim.out())?.[0],
    PROCESS_START_MS,
  );
  const { modbusTcpPort, dlt645Port } = JSON.parse(ready) as { modbusTcpPort: number; dlt645Port: number };
  const config = join(tmp.dir, 'gw.yaml');
  writeFileSync(
    config,
    `gateway: { id: gw-cli }
mqtt: { urls: ['${broker.url}'], reconnectMs: 100 }
batching: { windowMs: 200 }
queue: { path: ./q.db }
devices:
  - id: pm-1
    contract: modbus-tcp
    transport: { type: tcp, host: 127.0.0.1, port: ${modbusTcpPort} }
    params: { unit: 1 }
    poll: [{ message: read-holding-registers, params: { start: 0, count: 4 }, everyMs: 100 }]
  - id: meter-161
    contract: dlt645-2007
    transport: { type: tcp, host: 127.0.0.1, port: ${dlt645Port} }
    params: { address: '000000000161' }
    poll: [{ message: read, params: { di: '02010100' }, everyMs: 100 }]
`,
  );
  const platform = new FakePlatform(broker.url, 'gw-cli', { heartbeatMs: 300 });
  await platform.start();
  t.after(() => platform.stop());
  const gw = mqiot(['gateway', '--config', config, '--log-level', 'warn']);
  t.after(async () => {
    gw.child.kill('SIGKILL');
    await gw.exited;
  });
  await waitFor(
    'data from both devices',
    () =>
      ['pm-1', 'meter-161'].every((d) => platform.of('data').some((g) => g.frames.some((f) => f.dev === d))),
    20_000,
  );
  // the debugging path: a JSON downlink typed by hand with Debian's mosquitto_pub
  const query = JSON.stringify({ v: 1, k: 'query', gw: 'gw-cli', ts: Date.now(), id: 'q-json' });
  execFileSync('mosquitto_pub', [
    '-p',
    String(broker.port),
    '-h',
    '127.0.0.1',
    '-q',
    '1',
    '-t',
    'mqiot/gw/gw-cli/down',
    '-m',
    query,
  ]);
  const status = await waitFor('status for the JSON query', () =>
    platform.of('status').find((m) => m.id === 'q-json'),
  );
  assert.equal(status.complete, true, String(status.error));
  gw.child.kill('SIGTERM');
  assert.equal(await gw.exited, 0, gw.out());
  const will = await waitFor('shutdown will', () => platform.of('will').find((w) => w.reason === 'shutdown'));
  assert.equal(will.gw, 'gw-cli');
});

test('cli: mqiot gateway reports config errors naming the field, exit code 2', async () => {
  const tmp = makeTempDir();
  try {
    const config = join(tmp.dir, 'bad.yaml');
    writeFileSync(
      config,
      'gateway: { id: g }\nmqtt: { urls: [mqtt://127.0.0.1:1] }\nbatching: { windowMs: soon }\n',
    );
    const run = mqiot(['gateway', '--config', config, '--check']);
    assert.equal(await run.exited, 2);
    assert.match(run.out(), /batching\.windowMs: must be a whole number/);
  } finally {
    tmp.cleanup();
  }
});
