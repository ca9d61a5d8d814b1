// A file the user points at is unusable: every command that opens it names the file and the problem
// on one line and exits 1, with no stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'mqiot-startup-errors-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const badPasswords = join(dir, 'passwd');
writeFileSync(badPasswords, 'alice:$7$not-a-hash\n');
const ARGS: Record<string, string[]> = {
  up: ['--ws-port', 'off', '--metrics-port', 'off'],
  edge: ['--cloud', 'mqtt://127.0.0.1:9'], // never reached: the broker's files are read first
};

for (const [command, extra] of Object.entries(ARGS)) {
  test(`mqiot ${command}: a malformed password file is a one-line error naming file and line, exit 1`, async () => {
    const args = ['--data-dir', join(dir, command), '--host', '127.0.0.1', '--port', '0', '--http-port', '0'];
    const cli = runCli([command, ...args, ...extra], {
      MQIOT_BROKER_AUTH_PASSWORD_FILE: badPasswords,
      MQIOT_BROKER_AUTH_ALLOW_ANONYMOUS: 'false',
    });
    const code = await cli.exited;
    assert.equal(code, 1, cli.stderr());
    assert.match(cli.stderr(), new RegExp(`^mqiot: ${badPasswords.replace(/[.$]/g, '\\$&')}:1: `, 'm'));
    assert.doesNotMatch(cli.stderr(), /\n\s+at /, 'no stack trace');
  });
}
