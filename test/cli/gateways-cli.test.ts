// `mqiot gateways` as a user runs it, on a SQLite data directory and on PostgreSQL; the exported files
// accepted by Debian's Mosquitto; and `mqiot up` without --demo: no anonymous MQTT, gateways log in with
// the credentials the CLI issued, and a CLI revocation cuts a connected gateway off while it runs.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import mqtt, { type IClientOptions } from 'mqtt';
import pg from 'pg';
import { runCli, startUp } from '../support/cli.ts';
import { freePort } from '../support/ports.ts';
import { PROCESS_START_MS, waitFor } from '../support/wait.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'mqiot-gwcli-'));
  dirs.push(d);
  return d;
}

async function gateways(...args: string[]): Promise<{ code: number | string; out: string; err: string }> {
  const cli = runCli(['gateways', ...args]);
  const code = await cli.exited;
  return { code, out: cli.stdout(), err: cli.stderr() };
}

interface Issued {
  id: string;
  username: string;
  password: string;
}

/** The CONNACK outcome: 0 accepted, else the reason/return code. */
async function connack(url: string, options: IClientOptions): Promise<number> {
  try {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    await c.endAsync();
    return 0;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

async function lifecycle(store: string[]): Promise<void> {
  const add = await gateways('add', 'site-1', '--json', ...store);
  assert.equal(add.code, 0, add.err);
  const first = JSON.parse(add.out) as Issued;
  assert.equal(first.username, 'gw-site-1');
  assert.ok(first.password.length >= 22);
  const again = await gateways('add', 'site-1', ...store);
  assert.equal(again.code, 1);
  assert.match(again.err, /already has credentials/);
  const bad = await gateways('add', 'a/b', ...store);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /id: 'a\/b' is not a valid gateway id/);
  assert.doesNotMatch(bad.err, /\n\s+at /, 'no stack trace');
  const rotated = await gateways('rotate', 'site-1', '--json', ...store);
  assert.equal(rotated.code, 0, rotated.err);
  assert.notEqual((JSON.parse(rotated.out) as Issued).password, first.password);
  const list = await gateways('list', '--json', ...store);
  assert.deepEqual(
    (JSON.parse(list.out) as { id: string }[]).map((g) => g.id),
    ['site-1'],
  );
  assert.equal((await gateways('revoke', 'site-1', ...store)).code, 0);
  const twice = await gateways('revoke', 'site-1', ...store);
  assert.equal(twice.code, 1);
  assert.match(twice.err, /has no credentials/);
  assert.deepEqual(JSON.parse((await gateways('list', '--json', ...store)).out), []);
}

describe('mqiot gateways', () => {
  it('add, rotate, list, revoke on a SQLite data directory', async () => {
    await lifecycle(['--data-dir', tempDir()]);
  });

  it('add, rotate, list, revoke on PostgreSQL', async (t) => {
    const url = process.env.MQIOT_TEST_PG_URL;
    if (!url) {
      assert.ok(!process.env.CI, 'MQIOT_TEST_PG_URL is required in CI');
      t.skip('MQIOT_TEST_PG_URL not set');
      return;
    }
    const schema = `mqiot_gwcli_${process.pid}_${Date.now()}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    try {
      const sep = url.includes('?') ? '&' : '?';
      await lifecycle([
        '--postgres',
        `${url}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
      ]);
      const rows = await admin.query(`SELECT COUNT(*)::int AS n FROM ${schema}.gateway_credentials`);
      assert.equal(rows.rows[0].n, 0, 'the rows lived in the test schema');
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  });

  it('export-passwd: Debian mosquitto accepts the exported password and ACL files', async () => {
    const dir = tempDir();
    const a = JSON.parse((await gateways('add', 'site-a', '--json', '--data-dir', dir)).out) as Issued;
    const b = JSON.parse((await gateways('add', 'site-b', '--json', '--data-dir', dir)).out) as Issued;
    await gateways('revoke', 'site-b', '--data-dir', dir);
    const passwd = join(dir, 'passwd');
    const acl = join(dir, 'acl');
    writeFileSync(passwd, 'dashboard:$7$101$c2FsdHNhbHRzYWx0$' + 'A'.repeat(86) + '==\n');
    const exported = await gateways(
      'export-passwd',
      '--data-dir',
      dir,
      '--passwd',
      passwd,
      '--acl',
      acl,
      '--platform-user',
      'platform',
    );
    assert.equal(exported.code, 0, exported.err);
    const text = readFileSync(passwd, 'utf8');
    assert.match(text, /^dashboard:/m, 'other users kept');
    assert.match(text, /^gw-site-a:\$7\$/m);
    assert.doesNotMatch(text, /gw-site-b/, 'revoked gateways are not exported');
    assert.equal(statSync(passwd).mode & 0o777, 0o600);
    assert.match(
      readFileSync(acl, 'utf8'),
      /user gw-site-a\ntopic write mqiot\/gw\/site-a\/up\ntopic read mqiot\/gw\/site-a\/down/,
    );
    // the platform's user may publish alarm events (docs/protocol.md "Alarms")
    assert.match(readFileSync(acl, 'utf8'), /user platform\n(?:topic .*\n)*topic write mqiot\/alarms\/#\n/);

    const port = await freePort();
    const conf = join(dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      `listener ${port} 127.0.0.1\nallow_anonymous false\npersistence false\npassword_file ${passwd}\nacl_file ${acl}\n` +
        // run as root, mosquitto switches to user "mosquitto" (which cannot read a 0600 file) unless told to stay
        `user ${userInfo().username}\n`,
    );
    const mosquitto: ChildProcess = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
    try {
      const url = `mqtt://127.0.0.1:${port}`;
      // mosquitto takes a moment to listen: retry until it answers, then it must accept gw-site-a
      let accepted = -1;
      await waitFor(
        () => `mosquitto to accept the exported gw-site-a (last CONNACK ${accepted})`,
        async () => (accepted = await connack(url, { username: a.username, password: a.password })) === 0,
        PROCESS_START_MS,
      );
      assert.equal(accepted, 0, 'mosquitto accepts the exported gw-site-a');
      // Mosquitto 2.0 answers a bad password with 5 (not authorized) on MQTT 3.1.1
      assert.equal(
        await connack(url, { username: a.username, password: 'wrong' }),
        5,
        'bad password refused',
      );
      assert.equal(
        await connack(url, { username: b.username, password: b.password }),
        5,
        'revoked gateway refused',
      );
      // the ACL: gw-site-a may publish on its own up topic, not on another gateway's
      const client = await mqtt.connectAsync(url, {
        username: a.username,
        password: a.password,
        protocolVersion: 5,
        reconnectPeriod: 0,
      });
      const publish = (topic: string) =>
        new Promise<Error | undefined>((resolve) =>
          client.publish(topic, 'x', { qos: 1 }, (err) => resolve(err ?? undefined)),
        );
      assert.equal(await publish('mqiot/gw/site-a/up'), undefined);
      assert.ok(await publish('mqiot/gw/site-b/up'), 'another gateway’s topic refused');
      await client.endAsync();
    } finally {
      mosquitto.kill('SIGKILL');
    }
  });
});

describe('mqiot up without --demo', () => {
  it('refuses anonymous clients; a gateway logs in with CLI-issued credentials; a CLI revocation cuts it off', async () => {
    const dir = tempDir();
    const issued = JSON.parse((await gateways('add', 'site-up', '--json', '--data-dir', dir)).out) as Issued;
    const up = await startUp(dir);
    try {
      assert.equal(
        await connack(up.mqttUrl, { clientId: 'anon', protocolVersion: 5 }),
        135,
        'anonymous refused',
      );
      const login = {
        clientId: 'mqiot-gw-site-up',
        username: issued.username,
        password: issued.password,
        protocolVersion: 5 as const,
      };
      const gw = await mqtt.connectAsync(up.mqttUrl, { reconnectPeriod: 0, ...login });
      const closed = new Promise<void>((resolve) => gw.once('close', () => resolve()));
      const revoked = await gateways('revoke', 'site-up', '--data-dir', dir);
      assert.equal(revoked.code, 0, revoked.err);
      await closed; // the server's credential sweep (every 5 s) cuts the connection
      // no credentials any more, and no password file: not authorized (0x87)
      assert.equal(await connack(up.mqttUrl, login), 135, 'revoked: refused');
    } finally {
      await up.stop();
    }
  });
});
