/**
 * Black box: `mqiot broker --password-file --acl-file --no-anonymous --gateway-acl` started as a
 * child process, MQTT.js 3.1.1 and 5 clients; the password file is written by `mqiot passwd` and by
 * Debian's mosquitto_passwd; SIGHUP reload; the same files given to Debian's mosquitto decide alike.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

import { ReasonCode, ConnectReturnCode } from '../../src/protocol/reason-codes.ts';
import { PasswordFile } from '../../src/broker/auth/index.ts';
import { BIN, ROOT, brokerArgs, runCli, startBrokerCli, type RunningBroker } from '../support/cli.ts';
import { Mosquitto } from '../support/mosquitto.ts';
import { pingBarrier, subackCodes } from '../support/mqtt.ts';
import { freePort } from '../support/ports.ts';
import { waitFor } from '../support/wait.ts';

const run = promisify(execFile);

const ACL = `# mqiot auth end-to-end
user alice
topic readwrite alice/#
topic deny alice/secret
topic read mqiot/gw/+/up

user bob
topic write alice/inbox

user observer
topic read #

pattern readwrite devices/%u/#
pattern deny devices/%u/locked
pattern deny alice/%u/locked
`;

const USERS: Record<string, string> = {
  alice: 'alice-pw',
  bob: 'bob-pw',
  observer: 'obs-pw',
  carol: 'carol-pw',
};
const GW = { user: 'gw-site-a', password: 'gw-pw' };

let dir: string;
let pwFile: string;
let aclFile: string;
let broker: RunningBroker;
const clients: MqttClient[] = [];

/** `mqiot passwd FILE USER`, password on stdin. */
async function mqiotPasswd(file: string, user: string, password: string): Promise<void> {
  const child = spawn(process.execPath, [BIN, 'passwd', file, user], {
    cwd: ROOT,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  child.stdin.end(`${password}\n`);
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  assert.equal(code, 0);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mqiot-auth-cli-'));
  pwFile = join(dir, 'passwd');
  aclFile = join(dir, 'acl');
  // mosquitto_passwd creates the file, mqiot passwd adds to it: both formats in one file
  await run('mosquitto_passwd', ['-b', '-c', pwFile, 'alice', USERS.alice!]);
  for (const u of ['bob', 'observer', 'carol']) await mqiotPasswd(pwFile, u, USERS[u]!);
  await mqiotPasswd(pwFile, GW.user, GW.password);
  writeFileSync(aclFile, ACL);
  broker = await startBrokerCli([
    '--password-file',
    pwFile,
    '--acl-file',
    aclFile,
    '--no-anonymous',
    '--gateway-acl',
    '--log-level',
    'info',
  ]);
});

after(async () => {
  for (const c of clients) c.end(true);
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Outcome = { ok: true; client: MqttClient } | { ok: false; code: number | undefined };

/** Connects; resolves with the client or the refusal code (v5 reason code / 3.1.1 return code). */
function attempt(port: number, opts: IClientOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    c.once('connect', () => {
      clients.push(c);
      resolve({ ok: true, client: c });
    });
    c.once('error', (err) => {
      c.end(true);
      resolve({ ok: false, code: (err as Error & { code?: number }).code });
    });
  });
}

async function login(
  port: number,
  user: string,
  version: 4 | 5,
  extra: IClientOptions = {},
): Promise<MqttClient> {
  const password = user === GW.user ? GW.password : USERS[user]!;
  const r = await attempt(port, { protocolVersion: version, username: user, password, ...extra });
  assert.ok(r.ok, `${user} should connect (got ${r.ok ? '' : r.code})`);
  return r.client;
}

function received(c: MqttClient): string[] {
  const seen: string[] = [];
  c.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
  return seen;
}

/** SUBACK codes, failures included (MQTT.js would turn them into an error). */
const subscribeCodes = (c: MqttClient, filters: string[]): Promise<number[]> => subackCodes(c, filters, 1);

/** The PUBACK reason code of a QoS 1 publish (0 = success). */
function pubackCode(c: MqttClient, topic: string, payload: string): Promise<number> {
  return new Promise((resolve) => {
    const onPacket = (p: mqtt.Packet): void => {
      if (p.cmd !== 'puback') return;
      c.removeListener('packetreceive', onPacket);
      resolve(p.reasonCode ?? 0);
    };
    c.on('packetreceive', onPacket);
    c.publish(topic, payload, { qos: 1 }, () => {});
  });
}

for (const version of [4, 5] as const) {
  const name = version === 5 ? 'MQTT 5' : 'MQTT 3.1.1';
  const badCredentials =
    version === 5 ? ReasonCode.BadUserNameOrPassword : ConnectReturnCode.BadUserNameOrPassword;
  const notAuthorized = version === 5 ? ReasonCode.NotAuthorized : ConnectReturnCode.NotAuthorized;

  describe(`mqiot broker with password and ACL files, ${name}`, () => {
    test('good password connects (both hash writers); bad password and unknown user: bad user name or password', async () => {
      for (const user of ['alice', 'bob', GW.user]) (await login(broker.port, user, version)).end();
      const wrong = await attempt(broker.port, {
        protocolVersion: version,
        username: 'alice',
        password: 'bob-pw',
      });
      assert.deepEqual(wrong, { ok: false, code: badCredentials });
      const unknown = await attempt(broker.port, {
        protocolVersion: version,
        username: 'mallory',
        password: 'x',
      });
      assert.deepEqual(unknown, { ok: false, code: badCredentials });
      const noPassword = await attempt(broker.port, { protocolVersion: version, username: 'alice' });
      assert.deepEqual(noPassword, { ok: false, code: badCredentials });
    });

    test('anonymous clients are refused: not authorized', async () => {
      const anon = await attempt(broker.port, { protocolVersion: version });
      assert.deepEqual(anon, { ok: false, code: notAuthorized });
    });

    test('publish: a subscriber with rights sees only the allowed messages; denied PUBACK code', async () => {
      const alice = await login(broker.port, 'alice', version, { clientId: `alice-${version}` });
      const seen = received(alice);
      assert.deepEqual(await subscribeCodes(alice, [`alice/in${version}/+`]), [1]);
      const bob = await login(broker.port, 'bob', version);
      // bob may write alice/inbox only; what is denied is acknowledged 0x87 (v5) or silently dropped (3.1.1)
      const ok = await pubackCode(bob, 'alice/inbox', 'to-inbox');
      const denied = await pubackCode(bob, `alice/in${version}/x`, 'denied');
      const allowed = await pubackCode(alice, `alice/in${version}/y`, 'own');
      const secret = await pubackCode(alice, 'alice/secret', 'secret');
      assert.equal(ok, 0);
      assert.equal(denied, version === 5 ? ReasonCode.NotAuthorized : 0);
      assert.equal(allowed, 0);
      assert.equal(secret, version === 5 ? ReasonCode.NotAuthorized : 0);
      await waitFor('seen.length >= 1', () => seen.length >= 1, 5000);
      // Every publisher has its PUBACK, so routing is done; the ping round trip brings in what was sent.
      await pingBarrier(alice);
      assert.deepEqual(seen, [`alice/in${version}/y own`]);
      bob.end();
    });

    test('subscribe: nothing readable under a filter: 0x87 (v5) / 0x80 (3.1.1); a wider one is granted and filtered per message, as Mosquitto', async () => {
      const alice = await login(broker.port, 'alice', version, { clientId: `alice-wide-${version}` });
      const failure = version === 5 ? ReasonCode.NotAuthorized : 0x80;
      assert.deepEqual(
        await subscribeCodes(alice, [
          'alice/#',
          'alice/x/+',
          'bob/#',
          'alice/secret',
          '#',
          'devices/alice/t',
        ]),
        [1, 1, failure, failure, 1, 1],
      );
      const seen = received(alice);
      const observer = await login(broker.port, 'observer', version);
      const watched = received(observer);
      assert.deepEqual(await subscribeCodes(observer, ['devices/#']), [1]);
      const bob = await login(broker.port, 'bob', version);
      // bob may write its own devices/bob/# (pattern) and alice/inbox; alice may read only the latter
      assert.equal(await pubackCode(bob, `devices/bob/w${version}`, 'not-for-alice'), 0);
      assert.equal(await pubackCode(bob, 'alice/inbox', `inbox${version}`), 0);
      await waitFor(
        'seen.includes(`alice/inbox inbox${version}`)',
        () => seen.includes(`alice/inbox inbox${version}`),
        5000,
      );
      await waitFor(
        'watched.includes(`devices/bob/w${version} not-for-alice`)',
        () => watched.includes(`devices/bob/w${version} not-for-alice`),
        5000,
      );
      await pingBarrier(alice); // bob has his PUBACKs: anything wrongly routed is in before the PINGRESP
      assert.deepEqual(
        seen.filter((m) => m.startsWith('devices/')),
        [],
        'a topic alice may not read is not delivered through her # subscription',
      );
      alice.end();
      observer.end();
      bob.end();
    });

    test('gateway convention: gw-site-a publishes only to its up topic, subscribes only to its down topic', async () => {
      const alice = await login(broker.port, 'alice', version); // reads mqiot/gw/+/up
      const seen = received(alice);
      await subscribeCodes(alice, ['mqiot/gw/+/up']);
      const gw = await login(broker.port, GW.user, version);
      const failure = version === 5 ? ReasonCode.NotAuthorized : 0x80;
      assert.deepEqual(
        await subscribeCodes(gw, ['mqiot/gw/site-a/down', 'mqiot/gw/site-b/down', 'mqiot/gw/+/down']),
        [1, failure, failure],
      );
      assert.equal(
        await pubackCode(gw, 'mqiot/gw/site-b/up', 'spoof'),
        version === 5 ? ReasonCode.NotAuthorized : 0,
      );
      assert.equal(
        await pubackCode(gw, 'alice/x', 'elsewhere'),
        version === 5 ? ReasonCode.NotAuthorized : 0,
      );
      assert.equal(await pubackCode(gw, 'mqiot/gw/site-a/up', 'mine'), 0);
      await waitFor('the allowed message', () => seen.length >= 1, 5000);
      await pingBarrier(alice); // the gateway has its PUBACKs: anything wrongly routed is in by now
      assert.deepEqual(seen, ['mqiot/gw/site-a/up mine']);
      // a will on someone else's topic is refused at CONNECT
      const will = await attempt(broker.port, {
        protocolVersion: version,
        username: GW.user,
        password: GW.password,
        will: { topic: 'mqiot/gw/site-b/up', payload: Buffer.from('x'), qos: 1, retain: false },
      });
      assert.deepEqual(will, { ok: false, code: notAuthorized });
    });
  });
}

test('SIGHUP re-reads the password file; a broken ACL file keeps the previous one', async () => {
  const before = await attempt(broker.port, { protocolVersion: 5, username: 'dave', password: 'dave-pw' });
  assert.deepEqual(before, { ok: false, code: ReasonCode.BadUserNameOrPassword });
  await mqiotPasswd(pwFile, 'dave', 'dave-pw');
  broker.child.kill('SIGHUP');
  await waitFor(
    'broker.stdout().split(\'"auth files reloaded"\').length === 2',
    () => broker.stdout().split('"auth files reloaded"').length === 2,
    10_000,
  );
  (await login(broker.port, 'alice', 5)).end(); // still fine
  const dave = await attempt(broker.port, { protocolVersion: 5, username: 'dave', password: 'dave-pw' });
  assert.equal(dave.ok, true);
  // a broken ACL file: logged with file and line, the broker keeps running with the old rules
  writeFileSync(aclFile, `${ACL}\ntopic read bad/#/x\n`);
  broker.child.kill('SIGHUP');
  await waitFor(
    "broker.stdout().includes('auth files not reloaded')",
    () => broker.stdout().includes('auth files not reloaded'),
    10_000,
  );
  assert.match(broker.stdout(), new RegExp(`${aclFile.replaceAll('/', '\\/')}:17: `));
  const alice = await login(broker.port, 'alice', 5);
  assert.deepEqual(await subscribeCodes(alice, ['alice/x']), [1]);
  writeFileSync(aclFile, ACL);
});

test('mqiot passwd refuses what mosquitto_passwd refuses, and replaces a user in place', async () => {
  const file = join(dir, 'pw-cli');
  const colon = runCli(['passwd', file, 'a:b', '--password', 'x']);
  assert.equal(await colon.exited, 2);
  assert.match(colon.stderr(), /must not contain ':'/);
  const missing = runCli(['passwd', file]);
  assert.equal(await missing.exited, 2);
  await mqiotPasswd(file, 'u1', 'first');
  await mqiotPasswd(file, 'u2', 'other');
  await mqiotPasswd(file, 'u1', 'second');
  const pf = PasswordFile.load(file);
  assert.equal(pf.size, 2);
  assert.equal(await pf.verify('u1', Buffer.from('second')), true);
  assert.equal(await pf.verify('u1', Buffer.from('first')), false);
  const del = runCli(['passwd', file, 'u2', '--delete']);
  assert.equal(await del.exited, 0);
  const after = PasswordFile.load(file);
  assert.deepEqual([after.size, after.has('u1'), after.has('u2')], [1, true, false]);
  const again = runCli(['passwd', file, 'u2', '-D']);
  assert.equal(await again.exited, 1);
  assert.match(again.stderr(), /has no user 'u2'/);
});

test('environment override MQIOT_BROKER_AUTH_ALLOW_ANONYMOUS=false refuses anonymous clients', async () => {
  const b = await startBrokerCli([], { MQIOT_BROKER_AUTH_ALLOW_ANONYMOUS: 'false' });
  try {
    const anon = await attempt(b.port, { protocolVersion: 5 });
    assert.deepEqual(anon, { ok: false, code: ReasonCode.NotAuthorized });
  } finally {
    await b.stop();
  }
});

test('a malformed ACL file stops the broker with the file and line; a bad env value names the field', async () => {
  const bad = join(dir, 'bad-acl');
  writeFileSync(bad, 'user alice\ntopic read a/b\ntopic sideways a/#/b\n');
  const port = await freePort();
  const cli = runCli(brokerArgs({ port }, '--acl-file', bad));
  assert.equal(await cli.exited, 1);
  assert.match(
    cli.stderr(),
    new RegExp(`${bad.replaceAll('/', '\\/')}:3: 'sideways a/#/b' is not a valid topic filter`),
  );
  const env = runCli(brokerArgs({ port }), { MQIOT_BROKER_AUTH_ALLOW_ANONYMOUS: 'maybe' });
  assert.notEqual(await env.exited, 0);
  assert.match(env.stderr(), /broker\.auth\.allowAnonymous/);
});

test('interop: Debian mosquitto given the same password and ACL files delivers the same messages', async () => {
  // mosquitto run as root switches to user "mosquitto" unless told to stay
  chmodSync(dir, 0o755);
  chmodSync(pwFile, 0o644);
  const mosq = await Mosquitto.start(undefined, [
    'allow_anonymous false',
    `password_file ${pwFile}`,
    `acl_file ${aclFile}`,
    `user ${userInfo().username}`,
  ]);
  try {
    const cases: [string, string][] = [
      ['alice', 'alice/x'],
      ['alice', 'alice/secret'],
      ['alice', 'bob/x'],
      ['bob', 'alice/inbox'],
      ['bob', 'alice/x'],
      ['carol', 'devices/carol/t'],
      ['carol', 'devices/dave/t'],
      ['carol', 'devices/carol/locked'],
      // alice's own topic rule grants it before any pattern (deny or not) is looked at
      ['alice', 'alice/alice/locked'],
      ['observer', 'alice/x'],
    ];
    const outcome = async (port: number): Promise<string[]> => {
      const observer = await login(port, 'observer', 5);
      const seen = received(observer);
      await observer.subscribeAsync('#', { qos: 1 });
      for (const [user, topic] of cases) {
        const c = await login(port, user, 5);
        await pubackCode(c, topic, user);
        c.end();
      }
      const last = await login(port, 'alice', 5);
      await pubackCode(last, 'alice/done', 'end');
      await waitFor("seen.includes('alice/done end')", () => seen.includes('alice/done end'), 5000);
      const bad = await attempt(port, { protocolVersion: 5, username: 'alice', password: 'wrong' });
      const anon = await attempt(port, { protocolVersion: 5 });
      observer.end();
      last.end();
      return [...seen, `bad password refused: ${!bad.ok}`, `anonymous refused: ${!anon.ok}`];
    };
    const theirs = await outcome(mosq.port);
    const ours = await outcome(broker.port);
    assert.deepEqual(ours, theirs);
    assert.deepEqual(ours, [
      'alice/x alice',
      'alice/inbox bob',
      'devices/carol/t carol',
      'alice/alice/locked alice',
      // observer may only read: its publish is dropped by both brokers
      'alice/done end',
      'bad password refused: true',
      'anonymous refused: true',
    ]);
  } finally {
    await mosq.dispose();
  }
});
