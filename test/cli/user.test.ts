// `mqiot user` as a user runs it, on a SQLite data directory and on PostgreSQL: passwords from stdin or
// the environment (never a flag), errors that name the field, and tokens shared by instances on one
// PostgreSQL store (no instance-local secret).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { verifyPassword } from '../../src/platform/auth/password.ts';
import { AuthService } from '../../src/platform/auth/service.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { openPostgresStore, openSqliteStore, type PlatformStore } from '../../src/platform/store/index.ts';
import { testPostgresUrl } from '../platform/helpers.ts';
import pg from 'pg';

const BIN = new URL('../../bin/mqiot.js', import.meta.url).pathname;

function user(args: string[], stdin = '', env: Record<string, string> = {}) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MQIOT_')));
  const child = spawn(process.execPath, [BIN, 'user', ...args], { env: { ...base, ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin.end(stdin);
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, out, err })),
  );
}

async function exercise(storeArgs: string[], open: () => Promise<PlatformStore>): Promise<void> {
  const added = await user(['add', 'alice', '--role', 'operator', ...storeArgs], 'alice long password\n');
  assert.equal(added.code, 0, added.err);
  assert.equal((await user(['add', 'alice', ...storeArgs], 'alice long password\n')).code, 2, 'taken');
  const short = await user(['add', 'bob', ...storeArgs], 'short\n');
  assert.equal(short.code, 2);
  assert.match(short.err, /password: must be at least 10 characters/);
  const badRole = await user(['add', 'bob', '--role', 'root', ...storeArgs], 'bob long password\n');
  assert.match(badRole.err, /role: expected one of viewer, operator, admin/);
  const env = await user(['add', 'bob', ...storeArgs], '', { MQIOT_USER_PASSWORD: 'bob long password' });
  assert.equal(env.code, 0, env.err);
  const list = await user(['list', ...storeArgs]);
  assert.equal(list.out, 'alice\toperator\nbob\tviewer\n');

  // a running server's view: alice has a session; a new password ends it
  const store = await open();
  try {
    const auth = new AuthService(store, systemClock);
    const session = await auth.login('alice', 'alice long password', '127.0.0.1');
    assert.ok(await auth.authenticate(session.token));
    assert.equal((await user(['passwd', 'alice', ...storeArgs], 'a newer password\n')).code, 0);
    assert.equal(await auth.authenticate(session.token), undefined, 'sessions end with the old password');
    assert.ok(await verifyPassword('a newer password', (await store.getUser('alice'))!.passwordHash));
    assert.equal((await user(['role', 'alice', 'admin', ...storeArgs])).code, 0);
    assert.equal((await store.getUser('alice'))!.role, 'admin');
  } finally {
    await store.close();
  }
  assert.equal((await user(['remove', 'bob', ...storeArgs])).code, 0);
  const missing = await user(['remove', 'bob', ...storeArgs]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /user 'bob' not found/);
  assert.equal((await user(['remove', 'alice', ...storeArgs])).code, 2, 'the last admin stays');
}

describe('mqiot user', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('manages users in a SQLite data directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqiot-user-'));
    dirs.push(dir);
    await exercise(['--data-dir', dir], () => openSqliteStore(join(dir, 'platform.db')));
  });

  it('explains its usage and refuses unknown actions', async () => {
    const res = await user(['frobnicate']);
    assert.equal(res.code, 2);
    assert.match(res.err, /unknown action 'frobnicate'/);
  });

  const url = testPostgresUrl('mqiot user on PostgreSQL');
  if (url) {
    it('manages users on PostgreSQL, and instances sharing it accept each other’s tokens', async () => {
      // a database of its own: the CLI takes a URL, not a schema
      const db = `mqiot_user_${process.pid}`;
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${db}`);
      await admin.query(`CREATE DATABASE ${db}`);
      const dbUrl = url.replace(/\/[^/?]+(\?|$)/, `/${db}$1`);
      try {
        await exercise(['--postgres', dbUrl], () => openPostgresStore(dbUrl));
        const [a, b] = [await openPostgresStore(dbUrl), await openPostgresStore(dbUrl)];
        try {
          await new AuthService(a, systemClock).createUser({
            username: 'carol',
            password: 'carol long pw',
            role: 'viewer',
          });
          const session = await new AuthService(a, systemClock).login('carol', 'carol long pw', '10.0.0.1');
          const other = new AuthService(b, systemClock);
          assert.equal(
            (await other.authenticate(session.token))?.username,
            'carol',
            'instance B accepts A’s token',
          );
          await new AuthService(a, systemClock).logout((await other.authenticate(session.token))!);
          assert.equal(await other.authenticate(session.token), undefined, 'and sees its revocation at once');
        } finally {
          await a.close();
          await b.close();
        }
      } finally {
        await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
        await admin.end();
      }
    });
  }
});
