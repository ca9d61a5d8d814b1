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

for (const command of ['up', 'cloud', 'edge']) {
  test(`mqiot ${command}: an unreadable HTTPS certificate or a too short admin password is one line, no stack`, async () => {
    const args = ['--data-dir', join(dir, `${command}-http`), '--port', '0', '--http-port', '0'];
    const extra = command === 'edge' ? ['--cloud', 'mqtt://127.0.0.1:9'] : [];
    const tls = runCli([command, ...args, ...extra], {
      MQIOT_HTTP_TLS_CERT: join(dir, 'missing-cert.pem'),
      MQIOT_HTTP_TLS_KEY: join(dir, 'missing-key.pem'),
    });
    assert.equal(await tls.exited, 2, tls.stderr());
    assert.match(
      tls.stderr(),
      new RegExp(`^mqiot: ${command}: http.tls.cert: cannot read .*missing-cert.pem`, 'm'),
    );
    const half = runCli([command, ...args, ...extra], { MQIOT_HTTP_TLS_CERT: join(dir, 'cert.pem') });
    assert.equal(await half.exited, 2, half.stderr());
    assert.match(half.stderr(), /http.tls: set both cert and key/);
    assert.doesNotMatch(tls.stderr() + half.stderr(), /\n\s+at /, 'no stack trace');
  });
}

test('mqiot up: MQIOT_ADMIN_PASSWORD shorter than 10 characters stops the first start with a message', async () => {
  const cli = runCli(
    [
      'up',
      '--data-dir',
      join(dir, 'up-admin'),
      '--port',
      '0',
      '--http-port',
      '0',
      '--ws-port',
      'off',
      '--metrics-port',
      'off',
    ],
    { MQIOT_ADMIN_PASSWORD: 'short' },
  );
  assert.equal(await cli.exited, 2, cli.stderr());
  assert.match(cli.stderr(), /^mqiot: up: MQIOT_ADMIN_PASSWORD: must be at least 10 characters/m);
  assert.doesNotMatch(cli.stderr(), /\n\s+at /, 'no stack trace');
});
