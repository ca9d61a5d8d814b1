// `mqiot contract …` as a user runs it: the real CLI in a child process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN } from '../support/cli.ts';
import { PROCESS_START_MS } from '../support/wait.ts';

// the bound of a process start: on a busy machine a short command can take tens of seconds to load
const mqiot = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, 'contract', ...args], { encoding: 'utf8', timeout: PROCESS_START_MS });

test('contract decode prints fields and points with units', () => {
  const r = mqiot('decode', 'dlt645-2007', '68 61 01 00 00 00 00 68 91 06 33 34 34 35 34 43 10 16');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /di: "02010100"/);
  assert.match(r.stdout, /voltage_a\s+100\.1 V/);
});

test('contract decode with --context names Modbus registers; a bad frame shows the offset', () => {
  const ok = mqiot(
    'decode',
    'modbus-tcp',
    '00 01 00 00 00 07 01 03 04 00 05 00 06',
    '--context',
    '{"start":40,"names":["setpoint"]}',
  );
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /setpoint\s+5\n\s+holding\.41\s+6/);
  const bad = mqiot('decode', 'modbus-rtu', '01 04 04 00 00 08 E6 7D CF');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /decode failed at byte 7: checksum/);
});

test('contract encode prints the frame; bad parameters name the parameter', () => {
  const ok = mqiot('encode', 'dlt645-2007', 'read', '{"address":"000000000161","di":"00010000"}');
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), 'FE FE FE FE 68 61 01 00 00 00 00 68 11 04 33 33 34 33 14 16');
  const bad = mqiot('encode', 'modbus-rtu', 'read-coils', '{"unit":1,"start":-1}');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /read-coils\.start: -1 is out of range/);
});

test('contract check validates a file, runs its tests and names the path of an error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mqiot-contract-'));
  try {
    const good = join(dir, 'good.yaml');
    writeFileSync(
      good,
      'id: t\nseq:\n  - { name: a, type: u8, scale: 0.5 }\ntests:\n  - { name: half, hex: "04", expect: { a: 2 } }\n',
    );
    const r1 = mqiot('check', good);
    assert.equal(r1.status, 0, r1.stderr);
    assert.match(r1.stdout, /ok +half\n1 passed, 0 failed/);
    const failing = join(dir, 'failing.yaml');
    writeFileSync(
      failing,
      'id: t\nseq:\n  - { name: a, type: u8 }\ntests:\n  - { name: wrong, hex: "04", expect: { a: 5 } }\n',
    );
    const r2 = mqiot('check', failing);
    assert.equal(r2.status, 1);
    assert.match(r2.stdout, /FAIL wrong\n\s+a: expected 5, got 4/);
    const invalid = join(dir, 'invalid.yaml');
    writeFileSync(
      invalid,
      'id: t\nseq:\n  - { name: a, type: u8 }\n  - { name: b, type: bytes, size: len }\n',
    );
    const r3 = mqiot('check', invalid);
    assert.equal(r3.status, 1);
    assert.match(r3.stderr, /seq\[1\]\.size: field 'len' is not defined before use/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
