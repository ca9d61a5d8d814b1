// The pure pieces of sign-in and request checks, and HTTPS on the API's own listener.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  hashPassword,
  passwordProblem,
  usernameProblem,
  verifyPassword,
} from '../../src/platform/auth/password.ts';
import { FailureLimiter } from '../../src/platform/auth/rate-limit.ts';
import { lowerRole, roleAtLeast } from '../../src/platform/auth/roles.ts';
import { startPlatformApp } from '../../src/app/platform-app.ts';
import { auditEntry } from '../../src/platform/http/auth/audit.ts';
import {
  credentialFrom,
  hostAllowed,
  parseCookies,
  sameOriginWrite,
  sessionCookie,
} from '../../src/platform/http/auth/request-checks.ts';
import { toySource } from './helpers.ts';

describe('sign-in building blocks', () => {
  it('hashes passwords with scrypt and a salt, and checks them', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    assert.match(a, /^scrypt\$32768\$8\$1\$/);
    assert.notEqual(a, b, 'salted');
    assert.equal(await verifyPassword('correct horse battery', a), true);
    assert.equal(await verifyPassword('correct horse batterY', a), false);
    assert.equal(await verifyPassword('x', 'not a hash'), false);
    assert.match(passwordProblem('short') ?? '', /at least 10/);
    assert.equal(passwordProblem('long enough!'), undefined);
    assert.match(usernameProblem('a b') ?? '', /letters, digits/);
    assert.match(usernameProblem('x'.repeat(65)) ?? '', /at most 64/);
  });

  it('orders roles and caps a token by its owner', () => {
    assert.equal(roleAtLeast('admin', 'operator'), true);
    assert.equal(roleAtLeast('viewer', 'operator'), false);
    assert.equal(lowerRole('admin', 'viewer'), 'viewer');
  });

  it('limits failures in a sliding window per key, with bounded memory', () => {
    const limiter = new FailureLimiter({ max: 2, windowMs: 1000, maxKeys: 3 });
    limiter.fail('u', 0);
    assert.equal(limiter.retryAfter('u', 10), 0);
    limiter.fail('u', 100);
    assert.equal(limiter.retryAfter('u', 500), 500, 'until the first failure leaves the window');
    assert.equal(limiter.retryAfter('u', 999), 1);
    assert.equal(limiter.retryAfter('u', 1000), 0);
    limiter.fail('u', 1001);
    limiter.fail('u', 1002);
    limiter.reset('u');
    assert.equal(limiter.retryAfter('u', 1003), 0);
    for (const k of ['a', 'b', 'c', 'd']) {
      limiter.fail(k, 2000);
      limiter.fail(k, 2000);
    }
    assert.equal(limiter.retryAfter('a', 2001), 0, 'the oldest key was forgotten');
    assert.ok(limiter.retryAfter('d', 2001) > 0);
  });

  it('allows IP addresses, localhost names and configured names as Host', () => {
    for (const host of [
      '127.0.0.1:8080',
      '[::1]:8080',
      '192.168.1.20',
      'localhost:8080',
      'x.localhost',
      'iot.example.com',
      'a.b.example.org',
    ])
      assert.equal(hostAllowed(host, ['iot.example.com', '*.example.org']), true, host);
    for (const host of [undefined, '', 'attacker.example', 'localhost.attacker.example', 'example.org.evil'])
      assert.equal(hostAllowed(host, ['iot.example.com', '*.example.org']), false, String(host));
    assert.equal(hostAllowed('anything', ['*']), true);
  });

  it('reads credentials from Authorization, else the session cookie', () => {
    assert.deepEqual(credentialFrom({ authorization: 'Bearer abc' }), { token: 'abc', from: 'bearer' });
    assert.deepEqual(credentialFrom({ authorization: 'Basic abc' }), { malformed: true });
    assert.deepEqual(credentialFrom({ cookie: 'a=1; mqiot_session=xyz' }), { token: 'xyz', from: 'cookie' });
    assert.equal(credentialFrom({}), undefined);
    assert.deepEqual(parseCookies('a=1;b=%zz; c = 3 '), { a: '1', c: '3' });
    assert.match(sessionCookie('t', 10, true), /HttpOnly; SameSite=Strict; Max-Age=10; Secure$/);
  });

  it('accepts cookie writes only from the same origin or with the custom header', () => {
    assert.equal(sameOriginWrite({ origin: 'http://localhost:8080', host: 'localhost:8080' }), true);
    assert.equal(sameOriginWrite({ origin: 'https://iot.example.com', host: 'iot.example.com:443' }), true);
    assert.equal(sameOriginWrite({ origin: 'http://evil.example', host: 'localhost:8080' }), false);
    assert.equal(sameOriginWrite({ origin: 'null', host: 'localhost:8080' }), false);
    assert.equal(sameOriginWrite({ host: 'localhost:8080' }), false);
    assert.equal(sameOriginWrite({ host: 'localhost:8080', 'x-requested-with': 'mqiot' }), true);
  });

  it('summarises a request for the audit trail without secrets', () => {
    const entry = auditEntry({
      ts: 1,
      method: 'POST',
      url: '/api/users',
      routeUrl: '/api/users',
      params: {},
      body: { username: 'bob', password: 'secret-password', role: 'viewer' },
      status: 201,
      username: 'root',
      tokenId: null,
      address: '10.0.0.1',
    });
    assert.equal(entry.action, 'POST /api/users');
    assert.equal(entry.result, 'ok');
    assert.deepEqual(entry.detail, { role: 'viewer', fields: ['username', 'role'] });
    assert.ok(!JSON.stringify(entry).includes('secret-password'));
  });
});

describe('HTTPS on the API listener', () => {
  it('serves the API with the configured certificate', async () => {
    const fixtures = new URL('../server/fixtures/', import.meta.url);
    const cert = readFileSync(new URL('cert.pem', fixtures));
    const dir = mkdtempSync(join(tmpdir(), 'mqiot-https-'));
    const app = await startPlatformApp({
      dataDir: dir,
      contractSource: toySource,
      http: { host: '127.0.0.1', port: 0, https: { cert, key: readFileSync(new URL('key.pem', fixtures)) } },
      adminPassword: 'the admin password',
    });
    try {
      assert.match(app.url!, /^https:\/\//);
      const answer = await new Promise<{ status: number; body: string; cookie: string }>(
        (resolve, reject) => {
          const req = request(
            `${app.url}/api/auth/login`,
            { method: 'POST', ca: cert, headers: { 'content-type': 'application/json' } },
            (res) => {
              let body = '';
              res.on('data', (d: Buffer) => (body += d.toString()));
              res.on('end', () =>
                resolve({ status: res.statusCode ?? 0, body, cookie: String(res.headers['set-cookie']) }),
              );
            },
          );
          req.on('error', reject);
          req.end(JSON.stringify({ username: 'admin', password: 'the admin password', cookie: true }));
        },
      );
      assert.equal(answer.status, 200, answer.body);
      assert.equal(JSON.parse(answer.body).user.role, 'admin');
      assert.match(answer.cookie, /; Secure$/, 'the session cookie is Secure over HTTPS');
    } finally {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
