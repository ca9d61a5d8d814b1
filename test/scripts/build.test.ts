/**
 * The build of src/ into dist/ (scripts/build.ts, run by `npm ci`): the bundle runs `mqiot broker`,
 * and that command loads no code of the features it does not use (platform, HTTP, SQL) unless asked.
 * Built into a folder of its own under .tmp/, so the dist/ other tests run is not touched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildDist, packageOf } from '../../scripts/build.ts';
import { stopChild } from '../support/child.ts';
import { ROOT } from '../support/cli.ts';
import { tempDir } from '../support/temp.ts';
import { PROCESS_START_MS, waitFor } from '../support/wait.ts';

test('packageOf names the package of a bare import', () => {
  assert.equal(packageOf('ws'), 'ws');
  assert.equal(packageOf('pino/file'), 'pino');
  assert.equal(packageOf('@fastify/swagger'), '@fastify/swagger');
  assert.equal(packageOf('@fastify/swagger/lib/x.js'), '@fastify/swagger');
});

/** Every module URL the process resolves, written to stderr by a resolve hook. */
const TRACE_HOOK = `data:text/javascript,${encodeURIComponent(
  `import { register } from 'node:module';
   register('data:text/javascript,' + encodeURIComponent(
     'export async function resolve(s, c, next) { const r = await next(s, c); process._rawDebug("resolved " + r.url); return r; }'));`,
)}`;

async function startBuilt(main: string, args: string[]) {
  const child = spawn(
    process.execPath,
    ['--import', TRACE_HOOK, main, 'broker', '--host', '127.0.0.1', '--port', '0', ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (err += d));
  await waitFor('the built broker to listen', () => out.includes('"listening"'), PROCESS_START_MS);
  return { child, resolved: () => err.split('\n').filter((l) => l.startsWith('resolved ')) };
}

test('the built mqiot broker runs and loads no platform, HTTP or SQL code; SQLite only with --persistence', async (t) => {
  const out = join(ROOT, '.tmp', `build-test-${process.pid}`);
  t.after(() => rmSync(out, { recursive: true, force: true }));
  await buildDist(ROOT, out);
  const main = join(out, 'main.js');

  const memory = await startBuilt(main, ['--ws-port', '0', '--metrics-port', '0']);
  t.after(() => stopChild(memory.child, 'SIGKILL'));
  const loaded = memory.resolved();
  assert.ok(
    loaded.some((l) => l.includes(out)),
    'the bundle itself was loaded',
  );
  for (const pkg of ['fastify', 'better-sqlite3', '/pg/', '@fastify', 'serialport', 'cbor-x', 'mqtt/']) {
    assert.ok(!loaded.some((l) => l.includes(`node_modules/${pkg.replace(/^\//, '')}`)), `${pkg} not loaded`);
  }
  assert.ok(!loaded.some((l) => l.includes('/src/')), 'no TypeScript source loaded');
  await stopChild(memory.child, 'SIGTERM');

  const file = join(tempDir(t, 'mqiot-build-'), 'broker.db');
  const persistent = await startBuilt(main, [
    '--ws-port',
    'off',
    '--metrics-port',
    'off',
    '--persistence',
    file,
  ]);
  t.after(() => stopChild(persistent.child, 'SIGKILL'));
  assert.ok(
    persistent.resolved().some((l) => l.includes('node_modules/better-sqlite3')),
    'SQLite loaded',
  );
  await stopChild(persistent.child, 'SIGTERM');
});
