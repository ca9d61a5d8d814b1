// A gateway polling a serial device lets go of it on shutdown: the process exits on SIGTERM and the
// port is no longer held, so a restarted gateway (or another program) can use it at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseGatewayConfig } from '../../src/gateway/config.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { ptyPair } from '../sim/helpers.ts';
import { runCli } from '../support/cli.ts';
import { makeTempDir } from '../support/temp.ts';
import { PROCESS_START_MS, waitFor } from '../support/wait.ts';

/** True when process `pid` has `path` open (Linux: its file descriptors are links in /proc). */
function holds(pid: number | 'self', path: string): boolean {
  const dir = `/proc/${pid}/fd`;
  return readdirSync(dir).some((fd) => {
    try {
      return readlinkSync(join(dir, fd)) === path;
    } catch {
      return false; // closed while listing
    }
  });
}

const serialDevice = (path: string) => ({
  id: 'rtu-1',
  contract: 'modbus-rtu',
  transport: { type: 'serial', path },
  params: { unit: 1 },
  poll: [{ message: 'read-holding-registers', params: { start: 0, count: 2 }, everyMs: 100, timeoutMs: 100 }],
});

test('Gateway.stop() closes its serial port', async (t) => {
  const pty = await ptyPair();
  const tmp = makeTempDir();
  t.after(async () => {
    await pty.close();
    tmp.cleanup();
  });
  const gw = new Gateway(
    parseGatewayConfig({
      gateway: { id: 'gw-serial-stop' },
      mqtt: { urls: ['mqtt://127.0.0.1:1'], reconnectMs: 1000 }, // no broker needed: only the port matters
      queue: { path: `${tmp.dir}/q.db` },
      devices: [serialDevice(pty.b)],
    }),
  );
  await gw.start();
  await waitFor('the gateway to open the serial port', () => holds('self', pty.b));
  await gw.stop();
  assert.equal(holds('self', pty.b), false, 'the serial port is still open after stop()');
});

test('mqiot gateway exits on SIGTERM and releases its serial port', async (t) => {
  const pty = await ptyPair();
  const tmp = makeTempDir();
  const config = join(tmp.dir, 'gw.yaml');
  writeFileSync(
    config,
    JSON.stringify({
      gateway: { id: 'gw-serial-sigterm' },
      mqtt: { urls: ['mqtt://127.0.0.1:1'] },
      queue: { path: './q.db' },
      devices: [serialDevice(pty.b)],
    }),
  );
  const gw = runCli(['gateway', '--config', config]);
  t.after(async () => {
    await gw.kill();
    await pty.close();
    tmp.cleanup();
  });
  const pid = gw.child.pid!;
  await waitFor(
    () => `the gateway to open ${pty.b}; output: ${gw.stdout()}${gw.stderr()}`,
    () => holds(pid, pty.b),
    PROCESS_START_MS,
  );
  gw.child.kill('SIGTERM');
  const code = await Promise.race([
    gw.exited,
    waitFor('the gateway to exit after SIGTERM', () => false, 10_000),
  ]);
  assert.equal(code, 0, gw.stderr());
  assert.match(gw.stdout(), /gateway stopped/);
});
