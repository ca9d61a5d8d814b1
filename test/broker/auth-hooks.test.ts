/**
 * BrokerAuth wired into a real broker in process: local clients are not subject to the rules, the
 * config leaves (file, env) reach it, and `mqiot up`'s startAllInOne with gateway credentials and
 * gatewayAcl still carries a real gateway's data to the platform.
 */
import { testBrokerConfig } from '../support/live.ts';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { BrokerAuth, DEFAULT_AUTH_CONFIG, hashPassword } from '../../src/broker/auth/index.ts';
import type { LocalMessage } from '../../src/broker/types.ts';
import { ConfigError, loadConfig } from '../../src/app/config/index.ts';
import { Gateway, parseGatewayConfig } from '../../src/gateway/index.ts';
import { createLogger } from '../../src/log.ts';
import { startAllInOne } from '../../src/app/all-in-one.ts';
import { ReasonCode } from '../../src/protocol/reason-codes.ts';
import { startSimulators } from '../../src/sim/index.ts';
import { startBroker, type TestBroker } from '../support/broker.ts';
import { collect, subackCodes } from '../support/mqtt.ts';
import { waitFor } from '../support/wait.ts';
import { bearer, testToken } from '../support/auth.ts';

let dir: string;
let pwFile: string;
let aclFile: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mqiot-auth-hooks-'));
  pwFile = join(dir, 'passwd');
  aclFile = join(dir, 'acl');
  writeFileSync(
    pwFile,
    `alice:${await hashPassword('alice-pw')}\ngw-site-a:${await hashPassword('gw-pw')}\n`,
  );
  writeFileSync(aclFile, 'user alice\ntopic readwrite x/#\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('default config: no hooks at all (nothing on the publish path)', () => {
  const auth = new BrokerAuth(DEFAULT_AUTH_CONFIG);
  assert.deepEqual(Object.keys(auth.hooks), []);
  const withAcl = new BrokerAuth({ ...DEFAULT_AUTH_CONFIG, aclFile });
  assert.deepEqual(Object.keys(withAcl.hooks).sort(), [
    'authorizeDeliver',
    'authorizePublish',
    'authorizeSubscribe',
  ]);
  const gatewaysOnly = new BrokerAuth({ ...DEFAULT_AUTH_CONFIG, gatewayAcl: true });
  // gateways alone still check deliveries: a gateway reads its own down topic only, whatever session it holds
  assert.deepEqual(Object.keys(gatewaysOnly.hooks).sort(), [
    'authorizeDeliver',
    'authorizePublish',
    'authorizeSubscribe',
  ]);
});

test('authenticate: anonymous, names without a password file, passwords', async () => {
  const req = (username?: string, password?: string) => ({
    clientId: 'c',
    username,
    password: password === undefined ? undefined : Buffer.from(password),
    protocolVersion: 5 as const,
    remoteAddress: undefined,
    transport: 'tcp' as const,
    authenticationMethod: undefined,
    authenticationData: undefined,
  });
  const open = new BrokerAuth({ ...DEFAULT_AUTH_CONFIG, allowAnonymous: true });
  assert.equal(open.authenticate(req()), true);
  assert.equal(open.authenticate(req('anyone', 'anything')), true, 'no password file: a username is a name');
  const closed = new BrokerAuth({ ...DEFAULT_AUTH_CONFIG, allowAnonymous: false });
  assert.deepEqual(closed.authenticate(req()), { reasonCode: ReasonCode.NotAuthorized });
  assert.deepEqual(closed.authenticate(req('anyone', 'x')), { reasonCode: ReasonCode.NotAuthorized });
  const files = new BrokerAuth({ ...DEFAULT_AUTH_CONFIG, allowAnonymous: true, passwordFile: pwFile });
  assert.equal(files.authenticate(req()), true, 'anonymous still allowed beside a password file');
  assert.equal(await files.authenticate(req('alice', 'alice-pw')), true);
  const bad = { reasonCode: ReasonCode.BadUserNameOrPassword };
  assert.deepEqual(await files.authenticate(req('alice', 'gw-pw')), bad);
  assert.deepEqual(await files.authenticate(req('alice')), bad);
  assert.deepEqual(await files.authenticate(req('nobody', 'alice-pw')), bad);
});

test('reload: a broken file throws and the previous rules stay', () => {
  const acl = join(dir, 'reload-acl');
  writeFileSync(acl, 'topic write a/#\n');
  const auth = new BrokerAuth({ ...DEFAULT_AUTH_CONFIG, aclFile: acl });
  const anon = {
    clientId: 'c',
    username: undefined,
    protocolVersion: 4 as const,
    remoteAddress: undefined,
    transport: 'tcp' as const,
  };
  assert.equal(auth.canPublish(anon, 'a/1'), true);
  writeFileSync(acl, 'topic write b/#\n');
  auth.reload();
  assert.equal(auth.canPublish(anon, 'a/1'), false, 'the cached decision went with the old rules');
  assert.equal(auth.canPublish(anon, 'b/1'), true);
  writeFileSync(acl, 'topic write c/#\ntopic write bad/#/x\n');
  assert.throws(() => auth.reload(), /reload-acl:2: /);
  assert.equal(auth.canPublish(anon, 'b/1'), true);
  assert.equal(auth.canPublish(anon, 'c/1'), false);
});

test('local clients pass no hooks: the platform publishes and subscribes anywhere', async () => {
  const auth = new BrokerAuth({ allowAnonymous: false, passwordFile: pwFile, aclFile, gatewayAcl: true });
  let tb: TestBroker | undefined;
  try {
    tb = await startBroker({}, { hooks: auth.hooks });
    const local = tb.broker.createLocalClient('platform');
    const got: LocalMessage[] = [];
    local.subscribe('#', { qos: 1 }, (m) => void got.push(m));
    const alice = await tb.connect({
      protocolVersion: 5,
      username: 'alice',
      password: Buffer.from('alice-pw'),
    });
    const seen = collect(alice);
    assert.deepEqual(await subackCodes(alice, ['x/#', 'y/#'], 1), [1, ReasonCode.NotAuthorized]);
    local.publish('x/from-platform', Buffer.from('1'), { qos: 1 });
    local.publish('y/not-for-alice', Buffer.from('2'), { qos: 1 });
    await alice.publishAsync('x/from-alice', 'a', { qos: 1 });
    await waitFor('deliveries', () => seen.length === 2 && got.length === 3, 5000);
    // alice gets what she may read, from the platform and from herself, not y/...
    assert.deepEqual(seen.map((m) => m.topic).sort(), ['x/from-alice', 'x/from-platform']);
    assert.deepEqual(got.map((m) => m.topic).sort(), ['x/from-alice', 'x/from-platform', 'y/not-for-alice']);
    local.close();
  } finally {
    await tb?.close();
  }
});

test('broker.auth from a config file and the environment; a bad value names the field', () => {
  const file = join(dir, 'mqiot.yaml');
  writeFileSync(file, `broker:\n  auth:\n    passwordFile: ${pwFile}\n    gatewayAcl: true\n`);
  const config = loadConfig({
    file,
    env: { MQIOT_BROKER_AUTH_ALLOW_ANONYMOUS: 'false', MQIOT_BROKER_AUTH_ACL_FILE: aclFile },
  });
  assert.deepEqual(config.broker.auth, {
    allowAnonymous: false,
    passwordFile: pwFile,
    aclFile,
    gatewayAcl: true,
  });
  assert.throws(
    () => loadConfig({ env: { MQIOT_BROKER_AUTH_GATEWAY_ACL: 'perhaps' } }),
    (err: unknown) =>
      err instanceof ConfigError &&
      /broker\.auth\.gatewayAcl/.test(err.message) &&
      /MQIOT_BROKER_AUTH_GATEWAY_ACL/.test(err.message),
  );
  writeFileSync(file, 'broker:\n  auth:\n    passwordFile: 42\n');
  assert.throws(() => loadConfig({ file, env: {} }), /broker\.auth\.passwordFile/);
});

test('mqiot up wiring: a real gateway with its credentials under gatewayAcl reaches the platform', async () => {
  const system = await startAllInOne({
    broker: testBrokerConfig({
      persistence: 'off',
      auth: { allowAnonymous: false, passwordFile: pwFile, gatewayAcl: true },
    }),
    dataDir: join(dir, 'up'),
    http: { host: '127.0.0.1', port: 0 },
    platform: { tickMs: 100, heartbeatIntervalMs: 1000 },
    logger: createLogger({ level: 'silent' }),
  });
  const sims = await startSimulators({ modbusTcp: { host: '127.0.0.1', port: 0, units: [1] } });
  const gateway = new Gateway(
    parseGatewayConfig({
      gateway: { id: 'site-a' },
      mqtt: { urls: [system.mqttUrl], reconnectMs: 100, username: 'gw-site-a', password: 'gw-pw' },
      batching: { windowMs: 100 },
      queue: { path: join(dir, 'gw-queue.db') },
      devices: [
        {
          id: 'pm-1',
          contract: 'modbus-tcp',
          transport: { type: 'tcp', host: '127.0.0.1', port: sims.modbusTcp!.port },
          params: { unit: 1 },
          poll: [
            {
              name: 'meter',
              message: 'read-holding-registers',
              params: { start: 0, count: 11 },
              everyMs: 200,
            },
          ],
        },
      ],
    }),
  );
  try {
    // anonymous and a wrong password are refused on the same broker
    const refused = await new Promise<number | undefined>((resolve) => {
      const c = mqtt.connect(system.mqttUrl, { protocolVersion: 5, reconnectPeriod: 0 });
      c.once('connect', () => resolve(0));
      c.once('error', (err) => resolve((err as Error & { code?: number }).code));
      c.once('close', () => c.end(true));
    });
    assert.equal(refused, ReasonCode.NotAuthorized);
    await gateway.start();
    const headers = bearer(await testToken(system.app.store, 'viewer'));
    const latest = async (): Promise<unknown[]> => {
      const res = await fetch(`${system.httpUrl}/api/devices/pm-1/latest`, { headers });
      return res.ok ? ((await res.json()) as { items: unknown[] }).items : [];
    };
    const items = await waitFor(
      'readings of pm-1 through the authenticated gateway',
      async () => (await latest()).length > 0,
      20_000,
    );
    assert.ok(items, 'readings of pm-1 reached the platform through the authenticated gateway');
    const gw = (await (await fetch(`${system.httpUrl}/api/gateways/site-a`, { headers })).json()) as {
      gateway: { online: boolean };
    };
    assert.equal(gw.gateway.online, true);
  } finally {
    await gateway.stop({ graceful: false }).catch(() => undefined);
    await sims.close();
    await system.close();
  }
});
