// People and the HTTP API: every operation of the OpenAPI document refuses strangers (401) and viewers
// where it writes (403), generated from the document itself so a new route cannot be forgotten; login,
// expiry on a fake clock, revocation, rate limiting, users, tokens, the audit trail, Host and CSRF checks.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { FakeClock } from '../../src/platform/clock.ts';
import { ContractRegistry } from '../../src/platform/contract-registry.ts';
import { buildApi } from '../../src/platform/http/server.ts';
import { Platform } from '../../src/platform/platform.ts';
import { tempStore, toySource, type Json } from './helpers.ts';
import { bearer, testToken, TEST_PASSWORD } from '../support/auth.ts';
import { mosquittoHashing } from '../../src/app/secret-hashing.ts';

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3600_000;
/** Non-GET operations a viewer may use: their own session and tokens, and decoding a pasted frame. */
const VIEWER_WRITES = [
  'POST /api/auth/logout',
  'POST /api/tokens',
  'DELETE /api/tokens/{id}',
  'POST /api/contracts/{id}/try',
  // checking and trying a device model stores nothing, as trying a contract
  'POST /api/models/check',
  'POST /api/models/try',
];
const PUBLIC = ['GET /api/health', 'POST /api/auth/login'];

type Operation = { method: string; path: string; role: string; security: unknown };

describe('people and the HTTP API', () => {
  let app: FastifyInstance;
  let platform: Platform;
  let cleanup: () => Promise<void>;
  const clock = new FakeClock(T0);
  let admin: string;
  let viewer: string;
  let operations: Operation[];
  let store: Awaited<ReturnType<typeof tempStore>>['store'];

  const call = async (method: string, url: string, token?: string, payload?: unknown, headers = {}) => {
    const res = await app.inject({
      method: method as 'GET',
      url,
      headers: { ...(token ? bearer(token) : {}), ...headers },
      payload: payload as Json,
    });
    return { status: res.statusCode, body: (res.body ? res.json() : null) as Json, headers: res.headers };
  };
  const login = (username: string, password: string, remoteAddress = '10.0.0.1') =>
    app
      .inject({ method: 'POST', url: '/api/auth/login', payload: { username, password }, remoteAddress })
      .then((r) => ({ status: r.statusCode, body: r.json() as Json, headers: r.headers }));

  before(async () => {
    const temp = await tempStore();
    cleanup = temp.cleanup;
    store = temp.store;
    const contracts = new ContractRegistry(temp.store, toySource);
    await contracts.load();
    platform = new Platform({}, { store: temp.store, contracts, secretHashing: mosquittoHashing, clock });
    await platform.start({ timers: false });
    app = await buildApi(platform, {
      auth: {
        loginLimits: { perUser: { max: 3, windowMs: 60_000 }, perAddress: { max: 6, windowMs: 60_000 } },
      },
      allowedHosts: ['iot.example.com'],
    });
    admin = await testToken(temp.store, 'admin', { username: 'root', withPassword: true });
    viewer = await testToken(temp.store, 'viewer', { username: 'vera', withPassword: true });
    const doc = (await call('GET', '/api/docs')).body;
    operations = Object.entries(doc.paths as Record<string, Record<string, Json>>).flatMap(
      ([path, methods]) =>
        Object.entries(methods).map(([method, op]) => ({
          method: method.toUpperCase(),
          path,
          role: op['x-role'],
          security: op.security,
        })),
    );
  });
  after(async () => {
    await app.close();
    await platform.stop();
    await cleanup();
  });

  const concrete = (path: string) => path.replace(/\{[^}]+\}/g, 'x-1');
  const key = (op: Operation) => `${op.method} ${op.path}`;

  it('documents a role and the bearer scheme on every operation', () => {
    assert.ok(operations.length >= 35, `${operations.length} operations`);
    for (const op of operations) {
      assert.ok(['public', 'viewer', 'operator', 'admin'].includes(op.role), `${key(op)}: x-role ${op.role}`);
      assert.deepEqual(op.security, op.role === 'public' ? [] : [{ bearer: [] }], key(op));
    }
    assert.deepEqual(
      operations
        .filter((o) => o.role === 'public')
        .map(key)
        .sort(),
      [...PUBLIC].sort(),
    );
  });

  it('answers 401 without credentials on every operation but the public ones, before validation or routing', async () => {
    for (const op of operations) {
      if (op.role === 'public') continue;
      // a body that would fail validation: the auth check must come first
      const res = await call(
        op.method,
        concrete(op.path),
        undefined,
        op.method === 'GET' ? undefined : { bad: 1 },
      );
      assert.equal(res.status, 401, key(op));
      assert.equal(res.body.error.code, 'unauthorized', key(op));
    }
    for (const path of ['/api/nothing-here', '/api/devices/x/nothing', '/api']) {
      assert.equal((await call('GET', path)).status, 401, path);
      assert.equal((await call('DELETE', path)).status, 401, path);
    }
    // other spellings of a path never reach a route without credentials
    for (const path of [
      '/api//devices',
      '/API/devices',
      '/web/../api/devices',
      '/api/devices/',
      '/%61pi/devices',
      '/api%2Fdevices',
    ])
      assert.ok([401, 404].includes((await call('GET', path)).status), path);
    const garbage = await call('GET', '/api/devices', 'not-a-token');
    assert.equal(garbage.status, 401);
    assert.equal(garbage.headers['www-authenticate'], 'Bearer');
    const malformed = await call('GET', '/api/devices', undefined, undefined, { authorization: 'Basic abc' });
    assert.equal(malformed.status, 401);
    assert.equal((await call('GET', '/api/health')).status, 200);
  });

  it('answers 403 to a viewer on every write above viewer, and lets viewers read', async () => {
    const viewerWrites: string[] = [];
    for (const op of operations) {
      if (op.role === 'public') continue;
      // the event stream never ends, so inject() would wait forever: its role is enough here
      if (op.path === '/api/stream') {
        assert.equal(op.role, 'viewer');
        continue;
      }
      // logging out ends the token used: that one gets a token of its own
      const token =
        key(op) === 'POST /api/auth/logout' ? await testToken(store, 'viewer', { username: 'vera' }) : viewer;
      const res = await call(op.method, concrete(op.path), token, op.method === 'GET' ? undefined : {});
      if (op.role === 'viewer') {
        if (op.method !== 'GET') viewerWrites.push(key(op));
        assert.notEqual(res.status, 403, key(op));
        assert.notEqual(res.status, 401, key(op));
      } else {
        assert.equal(res.status, 403, `${key(op)} (${op.role})`);
        assert.equal(res.body.error.code, 'forbidden');
      }
    }
    // a write route open to viewers must be a deliberate choice
    assert.deepEqual(viewerWrites.sort(), [...VIEWER_WRITES].sort());
    assert.equal((await call('GET', '/api/nothing', viewer)).status, 404, 'signed in: unknown is 404');
  });

  it('logs in, expires sessions on the clock, and revokes on logout', async () => {
    const ok = await login('vera', TEST_PASSWORD);
    assert.equal(ok.status, 200);
    assert.match(ok.body.token, /^mqs_/);
    assert.equal(ok.body.expiresAt, clock.now() + 12 * HOUR);
    const me = await call('GET', '/api/auth/me', ok.body.token);
    assert.deepEqual(me.body, {
      username: 'vera',
      role: 'viewer',
      kind: 'session',
      expiresAt: ok.body.expiresAt,
    });
    clock.advance(12 * HOUR - 1);
    assert.equal((await call('GET', '/api/devices', ok.body.token)).status, 200);
    clock.advance(1);
    assert.equal((await call('GET', '/api/devices', ok.body.token)).status, 401, 'expired');

    const second = (await login('vera', TEST_PASSWORD)).body.token as string;
    assert.equal((await call('POST', '/api/auth/logout', second)).status, 204);
    assert.equal((await call('GET', '/api/devices', second)).status, 401, 'revoked at once');
  });

  it('fails unknown users and wrong passwords alike, and rate-limits per user and per address', async () => {
    const unknown = await login('nobody', 'whatever-password', '10.0.0.2');
    const wrong = await login('vera', 'whatever-password', '10.0.0.2');
    assert.equal(unknown.status, 401);
    assert.deepEqual(unknown.body, wrong.body);
    await login('vera', 'whatever-password', '10.0.0.3');
    await login('vera', 'whatever-password', '10.0.0.3');
    const limited = await login('vera', TEST_PASSWORD, '10.0.0.4');
    assert.equal(limited.status, 429, 'three failures for vera: even the right password waits');
    assert.equal(limited.body.error.code, 'rate_limited');
    assert.ok(Number(limited.headers['retry-after']) > 0);
    // another user from another address is not affected; after the window vera may again
    assert.equal((await login('root', TEST_PASSWORD, '10.0.0.5')).status, 200);
    clock.advance(60_001);
    assert.equal((await login('vera', TEST_PASSWORD, '10.0.0.4')).status, 200);
    // one address spraying many names
    for (let i = 0; i < 6; i++) await login(`user${i}`, 'whatever-password', '10.9.9.9');
    assert.equal((await login('root', TEST_PASSWORD, '10.9.9.9')).status, 429);
    clock.advance(60_001);
  });

  it('lets admins manage users; a deleted or demoted user loses access at once', async () => {
    const created = await call('POST', '/api/users', admin, {
      username: 'otto',
      password: TEST_PASSWORD,
      role: 'operator',
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.passwordHash, undefined);
    assert.equal(
      (
        await call('POST', '/api/users', admin, {
          username: 'otto',
          password: TEST_PASSWORD,
          role: 'operator',
        })
      ).status,
      409,
    );
    const short = await call('POST', '/api/users', admin, {
      username: 'p',
      password: 'short',
      role: 'viewer',
    });
    assert.equal(short.status, 400);
    assert.match(short.body.error.message, /password: must be at least 10/);
    const long = await call('POST', '/api/users', admin, {
      username: 'x'.repeat(500),
      password: TEST_PASSWORD,
      role: 'viewer',
    });
    assert.equal(long.status, 400);
    assert.equal(
      (await call('POST', '/api/users', admin, { username: 'q', password: 5, role: 'boss' })).status,
      400,
    );
    const otto = (await login('otto', TEST_PASSWORD, '10.1.0.1')).body.token as string;
    assert.equal(
      (await call('PATCH', '/api/rules/none', otto, { enabled: true })).status,
      404,
      'an operator may',
    );
    assert.equal((await call('PATCH', '/api/users/otto', admin, { role: 'viewer' })).status, 200);
    assert.equal(
      (await call('PATCH', '/api/rules/none', otto, { enabled: true })).status,
      403,
      'demoted at once',
    );
    assert.equal((await call('GET', '/api/users/otto', admin)).body.role, 'viewer');
    assert.deepEqual(
      (await call('GET', '/api/users', admin)).body.items.map((u: Json) => u.username),
      ['otto', 'root', 'vera'],
    );
    assert.equal((await call('DELETE', '/api/users/otto', admin)).status, 204);
    assert.equal((await call('GET', '/api/devices', otto)).status, 401, 'deleted user: token dead');
    assert.equal((await call('DELETE', '/api/users/root', admin)).status, 409, 'the last admin stays');
    assert.equal((await call('GET', '/api/users/nobody', admin)).status, 404);
  });

  it('issues API tokens once, never above the creator, lists them without secrets and revokes them', async () => {
    const own = await call('POST', '/api/tokens', viewer, { name: 'grafana', role: 'viewer' });
    assert.equal(own.status, 201);
    assert.match(own.body.token, /^mqt_/);
    assert.equal((await call('GET', '/api/devices', own.body.token)).status, 200);
    const above = await call('POST', '/api/tokens', viewer, { name: 'x', role: 'operator' });
    assert.equal(above.status, 403);
    const expiring = await call('POST', '/api/tokens', admin, {
      name: 'ci',
      role: 'operator',
      expiresAt: new Date(clock.now() + HOUR).toISOString(),
    });
    assert.equal(expiring.body.expiresAt, clock.now() + HOUR);
    const mine = (await call('GET', '/api/tokens', viewer)).body.items as Json[];
    assert.ok(mine.every((t) => t.username === 'vera' && t.hash === undefined && t.token === undefined));
    const all = (await call('GET', '/api/tokens', admin)).body.items as Json[];
    assert.ok(all.some((t) => t.name === 'ci') && all.some((t) => t.name === 'grafana'));
    assert.equal((await call('DELETE', `/api/tokens/${expiring.body.id}`, viewer)).status, 404, "not vera's");
    assert.equal((await call('DELETE', `/api/tokens/${own.body.id}`, viewer)).status, 204);
    assert.equal((await call('GET', '/api/devices', own.body.token)).status, 401);
    clock.advance(HOUR);
    assert.equal((await call('GET', '/api/devices', expiring.body.token)).status, 401, 'expired');
  });

  it('records every kind of change in the audit trail, readable by admins only', async () => {
    await call('PATCH', '/api/settings', admin, { retentionDays: 3 });
    await call('POST', '/api/rules', admin, { id: 'r-1' });
    await call('PATCH', '/api/devices/nope', admin, { name: 'n' });
    await call('POST', '/api/devices/nope/commands', admin, { action: 'poll' });
    await call('POST', '/api/contracts', admin, { source: '{}' });
    await call('PATCH', '/api/settings', viewer, { retentionDays: 1 });
    await login('root', 'wrong password!', '10.2.0.1');
    assert.equal((await call('GET', '/api/audit', viewer)).status, 403);
    const page = (await call('GET', '/api/audit?limit=1000', admin)).body;
    const seen = (action: string, result: string, user: string) =>
      page.items.find((e: Json) => e.action === action && e.result === result && e.username === user);
    assert.ok(seen('PATCH /api/settings', 'ok', 'root'));
    assert.equal(seen('PATCH /api/settings', 'ok', 'root').detail.retentionDays, 3);
    assert.ok(seen('POST /api/rules', 'failed', 'root'));
    assert.ok(seen('PATCH /api/devices/:id', 'failed', 'root'));
    assert.equal(seen('POST /api/devices/:id/commands', 'failed', 'root').target, 'nope');
    assert.ok(seen('POST /api/contracts', 'failed', 'root'));
    assert.ok(seen('PATCH /api/settings', 'denied', 'vera'));
    assert.ok(seen('POST /api/users', 'ok', 'root'));
    assert.ok(seen('DELETE /api/users/:name', 'ok', 'root'));
    assert.ok(seen('POST /api/tokens', 'ok', 'vera'));
    assert.ok(seen('DELETE /api/tokens/:id', 'ok', 'vera'));
    assert.ok(seen('POST /api/auth/login', 'ok', 'vera'));
    assert.ok(seen('POST /api/auth/logout', 'ok', 'vera'));
    const failedLogin = seen('POST /api/auth/login', 'denied', 'root');
    assert.equal(failedLogin.address, '10.2.0.1');
    assert.ok(!JSON.stringify(page.items).includes('wrong password!'), 'passwords are never recorded');
    const filtered = (await call('GET', '/api/audit?user=vera&result=denied', admin)).body;
    assert.ok(
      filtered.items.length > 0 &&
        filtered.items.every((e: Json) => e.username === 'vera' && e.result === 'denied'),
    );
    assert.equal((await call('GET', '/api/audit?limit=2&offset=1', admin)).body.items.length, 2);
    assert.equal((await call('GET', '/api/audit?limit=abc', admin)).status, 400);
  });

  it('answers only to allowed Host names and refuses cookie writes from other origins', async () => {
    assert.equal(
      (await call('GET', '/api/health', undefined, undefined, { host: 'evil.example:8080' })).status,
      400,
    );
    assert.equal((await call('GET', '/', undefined, undefined, { host: 'evil.example' })).status, 400);
    for (const host of ['iot.example.com', '127.0.0.1:8080', '[::1]:8080', 'localhost', 'a.localhost'])
      assert.equal((await call('GET', '/api/health', undefined, undefined, { host })).status, 200, host);
    const cookie = `mqiot_session=${admin}`;
    const crossSite = await call(
      'PATCH',
      '/api/settings',
      undefined,
      { retentionDays: 0 },
      {
        cookie,
        origin: 'http://evil.example',
      },
    );
    assert.equal(crossSite.status, 403);
    const noMarker = await call('PATCH', '/api/settings', undefined, { retentionDays: 0 }, { cookie });
    assert.equal(noMarker.status, 403);
    const sameSite = await call(
      'PATCH',
      '/api/settings',
      undefined,
      { retentionDays: 0 },
      {
        cookie,
        origin: 'http://localhost:80',
      },
    );
    assert.equal(sameSite.status, 200);
    assert.equal(
      (await call('GET', '/api/devices', undefined, undefined, { cookie })).status,
      200,
      'reads need no marker',
    );
    const login = await app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { username: 'vera', password: TEST_PASSWORD, cookie: true },
      remoteAddress: '10.3.0.1',
    });
    assert.equal(login.json().token, undefined, 'the cookie session is not handed to scripts');
    assert.match(
      String(login.headers['set-cookie']),
      /^mqiot_session=mqs_[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/,
    );
    assert.equal(login.headers['access-control-allow-origin'], undefined, 'no CORS');
  });

  it('keeps clean 4xx for bad input once signed in', async () => {
    const huge = await app.inject({
      method: 'POST',
      url: '/api/rules',
      headers: { ...bearer(admin), 'content-type': 'application/json' },
      payload: `{"id":"${'x'.repeat(3 * 1024 * 1024)}"}`,
    });
    assert.equal(huge.statusCode, 413);
    assert.equal(huge.json().error.code, 'payload_too_large');
    const longId = await call('GET', `/api/devices/${'d'.repeat(300)}`, admin);
    assert.equal(longId.status, 400);
    assert.equal(longId.body.error.code, 'invalid_input');
    const longRule = await call('GET', `/api/rules/${'r'.repeat(99)}x`, admin);
    assert.equal(longRule.status, 404);
    const longToken = await call('GET', '/api/devices', 'a'.repeat(5000));
    assert.equal(longToken.status, 401);
    const badLogin = await call('POST', '/api/auth/login', undefined, { username: 5, password: [] });
    assert.equal(badLogin.status, 400);
    assert.equal(badLogin.body.error.code, 'invalid_input');
  });
});
