// Black box: `mqiot sim` as a user runs it, faults changed on demand through standard input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { parseFaultLine } from '../../src/cli/commands/sim.ts';
import { openSerial, closeSerial } from '../../src/gateway/links/serial.ts';
import { hex, ptyPair } from './helpers.ts';
import { PROCESS_START_MS, waitFor } from '../support/wait.ts';

const BIN = new URL('../../bin/mqiot.js', import.meta.url).pathname;

test('sim cli: fault lines parse; bad ones explain the syntax', () => {
  assert.deepEqual(parseFaultLine('fault late 2 500'), { mode: 'late', count: 2, delayMs: 500 });
  assert.deepEqual(parseFaultLine('fault none'), { mode: 'none', count: undefined, delayMs: undefined });
  assert.equal(parseFaultLine('   '), undefined);
  assert.match(parseFaultLine('fault sometimes') as string, /expected 'fault MODE/);
});

test('sim cli: a Modbus TCP simulator whose fault is switched on through stdin', async (t) => {
  const child = spawn(process.execPath, [BIN, 'sim', '--modbus-tcp', '0', '--units', '1'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  });
  const ready = await waitFor('ready', () => /\{"ready":true[^\n]*\}/.exec(out)?.[0], PROCESS_START_MS);
  const port = (JSON.parse(ready) as { modbusTcpPort: number }).modbusTcpPort;
  const socket = net.connect(port, '127.0.0.1');
  t.after(() => socket.destroy());
  const answers: Buffer[] = [];
  socket.on('data', (d: Buffer) => answers.push(d));
  socket.write(hex('00 01 00 00 00 06 01 03 00 00 00 01'));
  await waitFor('answer', () => answers.length === 1);
  child.stdin.write('fault no-answer 1\n');
  await waitFor('fault set', () => out.includes('fault set'));
  socket.write(hex('00 02 00 00 00 06 01 03 00 00 00 01'));
  socket.write(hex('00 03 00 00 00 06 01 03 00 00 00 01'));
  // Requests are answered in order: an answer to the second would come before the third's.
  const size = answers[0]!.length;
  await waitFor('answered again', () => Buffer.concat(answers).length >= 2 * size);
  const rest = Buffer.concat(answers).subarray(size);
  assert.equal(rest.readUInt16BE(0), 3, 'no answer while the fault lasts: the next one is the third');
  assert.equal(rest.length, size, 'one answer');
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('sim cli: DL/T 645 meters on TCP and on a serial line in one process', async (t) => {
  const pty = await ptyPair();
  const child = spawn(
    process.execPath,
    [BIN, 'sim', '--dlt645-tcp', '0', '--dlt645-serial', pty.a, '--meters', '000000000161'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    await pty.close();
  });
  const ready = await waitFor(
    () => `ready; output: ${out}`,
    () => /\{"ready":true[^\n]*\}/.exec(out)?.[0],
    20_000,
  );
  const port = (JSON.parse(ready) as { dlt645Port: number }).dlt645Port;
  const voltageReq = hex('68 61 01 00 00 00 00 68 11 04 33 34 34 35 17 16');
  // an answer from meter 000000000161 with control 0x91 (normal read reply)
  const isAnswer = (b: Buffer) => b.includes(hex('68 61 01 00 00 00 00 68 91'));

  const socket = net.connect(port, '127.0.0.1');
  t.after(() => socket.destroy());
  let tcp = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => (tcp = Buffer.concat([tcp, d])));
  socket.write(voltageReq);
  await waitFor('the TCP meter to answer', () => isAnswer(tcp));

  const serial = await openSerial(pty.b);
  t.after(() => closeSerial(serial));
  let line = Buffer.alloc(0);
  serial.on('data', (d: Buffer) => (line = Buffer.concat([line, d])));
  serial.write(voltageReq);
  await waitFor('the serial meter to answer', () => isAnswer(line));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
