/**
 * Identity binding (docs/broker.md "Identity binding"), attacked with MQTT.js clients over real
 * sockets: the broker runs with a password file and an ACL file (BrokerAuth, as `mqiot broker` does).
 * A gateway cannot take another gateway's client id or session; a session is resumed only by its
 * owner; what a session holds is checked against whoever holds it when it goes out; disconnectUser.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IClientOptions } from 'mqtt';
import { BrokerAuth, DEFAULT_AUTH_CONFIG } from '../../src/broker/auth/index.ts';
import { MemorySessionStore } from '../../src/broker/store/memory.ts';
import { admitIdentity, reservedFor } from '../../src/broker/identity.ts';
import { ReasonCode, ConnectReturnCode } from '../../src/protocol/reason-codes.ts';
import { ACL, PASSWORDS, tryConnect, writeAuthFiles } from './identity-fixtures.ts';
import { startBroker, type TestBroker } from '../support/broker.ts';
import { waitFor } from '../support/wait.ts';

describe('identity rules (pure)', () => {
  test('mqiot-gw-<id> is reserved for gw-<id>; other ids for anyone', () => {
    assert.equal(reservedFor('mqiot-gw-b'), 'gw-b');
    assert.equal(reservedFor('sensor-1'), undefined);
    const refused = admitIdentity('mqiot-gw-b', 'gw-a', undefined);
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.reasonCode, ReasonCode.ClientIdentifierNotValid);
    assert.deepEqual(admitIdentity('mqiot-gw-b', 'gw-b', undefined), { ok: true, reclaim: false });
    // anonymous (lab mode only) may use it, as a lesser identity
    assert.deepEqual(admitIdentity('mqiot-gw-b', undefined, undefined), { ok: true, reclaim: false });
  });

  test('a session is resumed by its owner only; the gateway reclaims its id; local sessions are the server’s', () => {
    const owned = (username: string | undefined) => ({ isLocal: false, owner: { username } });
    assert.equal(admitIdentity('s1', 'alice', owned('alice')).ok, true);
    const other = admitIdentity('s1', 'bob', owned('alice'));
    assert.equal(!other.ok && other.reasonCode, ReasonCode.NotAuthorized);
    assert.equal(admitIdentity('s1', undefined, owned('alice')).ok, false, 'anonymous is another identity');
    assert.equal(admitIdentity('s1', 'alice', owned(undefined)).ok, false, 'and so is a named user');
    assert.deepEqual(admitIdentity('mqiot-gw-b', 'gw-b', owned(undefined)), { ok: true, reclaim: true });
    assert.equal(admitIdentity('platform', 'alice', { isLocal: true, owner: undefined }).ok, false);
    // a session restored from a store that did not keep user names: adopted (then checked per delivery)
    assert.deepEqual(admitIdentity('s1', 'bob', { isLocal: false, owner: undefined }), {
      ok: true,
      reclaim: false,
    });
  });
});

describe('identity binding over TCP (password file + ACL file)', () => {
  let dir: string;
  let tb: TestBroker;
  let auth: BrokerAuth;
  const login = (user: string, extra: IClientOptions = {}): IClientOptions => ({
    username: user,
    password: PASSWORDS[user],
    ...extra,
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-identity-'));
    const files = await writeAuthFiles(dir);
    // lab mode: anonymous clients are let in (the squatter test needs one)
    auth = new BrokerAuth({ ...DEFAULT_AUTH_CONFIG, allowAnonymous: true, ...files });
    tb = await startBroker({}, { hooks: auth.hooks });
  });
  after(async () => {
    await tb.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** gw-b's persistent session with `n` QoS 1 downlink messages queued while it is away. */
  async function gwBAwayWithQueue(n: number, version: 4 | 5): Promise<void> {
    const gw = await tb.connect(
      login('gw-b', {
        clientId: 'mqiot-gw-b',
        clean: false,
        protocolVersion: version,
        ...(version === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
      }),
    );
    await gw.subscribeAsync('mqiot/gw/b/down', { qos: 1 });
    await gw.endAsync();
    const platform = await tb.connect(login('platform', { clientId: 'platform-test', protocolVersion: 5 }));
    for (let i = 0; i < n; i++) await platform.publishAsync('mqiot/gw/b/down', `cmd-${i}`, { qos: 1 });
    await platform.endAsync();
    await waitFor('queued', () => tb.broker.sessions.get('mqiot-gw-b')!.queuedCount === n, 5000);
  }

  for (const version of [4, 5] as const) {
    test(`v${version === 5 ? '5' : '3.1.1'}: gw-a cannot take mqiot-gw-b: refused (0x85 / 2), gets nothing, gw-b stays connected and keeps its queue`, async () => {
      await gwBAwayWithQueue(3, version);
      const attacker = await tryConnect(
        tb.url,
        login('gw-a', { clientId: 'mqiot-gw-b', clean: false, protocolVersion: version }),
      );
      const got = attacker.got;
      assert.equal(attacker.ok, false);
      assert.equal(
        attacker.code,
        version === 5 ? ReasonCode.ClientIdentifierNotValid : ConnectReturnCode.IdentifierRejected,
      );
      assert.equal(tb.broker.sessions.get('mqiot-gw-b')!.queuedCount, 3, 'the queue is untouched');
      // the owner comes back: its session and every queued message
      const owner = await tryConnect(
        tb.url,
        login('gw-b', { clientId: 'mqiot-gw-b', clean: false, protocolVersion: version }),
      );
      assert.equal(owner.ok, true);
      assert.equal(owner.sessionPresent, true);
      const mine = owner.got;
      await waitFor('queued messages for gw-b', () => mine.length === 3, 5000);
      assert.deepEqual(
        mine.map((m) => m.payload),
        ['cmd-0', 'cmd-1', 'cmd-2'],
      );
      // while gw-b is connected, gw-a tries again: refused, gw-b is not knocked off
      const again = await tryConnect(
        tb.url,
        login('gw-a', { clientId: 'mqiot-gw-b', protocolVersion: version }),
      );
      assert.equal(again.ok, false);
      assert.equal(owner.client.connected, true);
      assert.equal(got.length, 0);
      await owner.client.endAsync();
    });
  }

  test('a session is not resumed by another user: 0x87, no session present, nothing queued reaches it', async () => {
    const alice = await tb.connect(
      login('alice', {
        clientId: 'reader-1',
        clean: false,
        protocolVersion: 5,
        properties: { sessionExpiryInterval: 600 },
      }),
    );
    await alice.subscribeAsync('feed/#', { qos: 1 });
    await alice.endAsync();
    for (let i = 0; i < 2; i++)
      tb.broker.publish({ topic: 'feed/public', payload: Buffer.from(`p${i}`), qos: 1 });
    assert.equal(tb.broker.sessions.get('reader-1')!.queuedCount, 2);
    for (const intruder of [login('bob'), {}]) {
      const r = await tryConnect(tb.url, {
        ...intruder,
        clientId: 'reader-1',
        clean: false,
        protocolVersion: 5,
      });
      const got = r.got;
      assert.equal(r.ok, false);
      assert.equal(r.code, ReasonCode.NotAuthorized);
      assert.equal(r.sessionPresent, false);
      assert.equal(got.length, 0);
    }
    // 3.1.1: the same refusal as return code 5
    const v4 = await tryConnect(
      tb.url,
      login('bob', { clientId: 'reader-1', clean: false, protocolVersion: 4 }),
    );
    assert.equal(v4.code, ConnectReturnCode.NotAuthorized);
    // same identity: resumed, queue delivered
    const back = await tryConnect(
      tb.url,
      login('alice', { clientId: 'reader-1', clean: false, protocolVersion: 5 }),
    );
    assert.equal(back.sessionPresent, true);
    const got = back.got;
    await waitFor('alice gets her queue', () => got.length === 2, 5000);
    await back.client.endAsync();
  });

  test('lab mode: anonymous cannot resume gw-b’s session; gw-b takes its id back from an anonymous one, inheriting nothing', async () => {
    const gw = await tb.connect(
      login('gw-b', {
        clientId: 'mqiot-gw-b',
        protocolVersion: 5,
        properties: { sessionExpiryInterval: 600 },
      }),
    );
    await gw.endAsync();
    assert.equal(tb.broker.sessions.get('mqiot-gw-b')!.client?.username, 'gw-b');
    const refused = await tryConnect(tb.url, { clientId: 'mqiot-gw-b', clean: false, protocolVersion: 5 });
    assert.equal(refused.code, ReasonCode.NotAuthorized);
    tb.broker.destroySession(tb.broker.sessions.get('mqiot-gw-b')!);
    const squatter = await tryConnect(tb.url, {
      clientId: 'mqiot-gw-b',
      clean: false,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 600 },
    });
    assert.equal(squatter.ok, true);
    await squatter.client.subscribeAsync('lab/#', { qos: 1 });
    const kicked = new Promise<number>((r) =>
      squatter.client.once('disconnect', (p) => r(p.reasonCode ?? 0)),
    );
    const owner = await tryConnect(
      tb.url,
      login('gw-b', { clientId: 'mqiot-gw-b', clean: false, protocolVersion: 5 }),
    );
    assert.equal(owner.ok, true);
    assert.equal(owner.sessionPresent, false, 'the squatter’s session is ended, not resumed');
    assert.equal(await kicked, ReasonCode.SessionTakenOver);
    assert.equal(tb.broker.sessions.get('mqiot-gw-b')!.subscriptionCount, 0);
    await owner.client.endAsync();
  });

  test('delivery re-checks the ACL for the identity holding the session: a queued message it may no longer read is not sent', async () => {
    const alice = await tb.connect(
      login('alice', {
        clientId: 'reader-2',
        clean: false,
        protocolVersion: 5,
        properties: { sessionExpiryInterval: 600 },
      }),
    );
    await alice.subscribeAsync('feed/#', { qos: 1 });
    await alice.endAsync();
    tb.broker.publish({ topic: 'feed/secret', payload: Buffer.from('s'), qos: 1 });
    tb.broker.publish({ topic: 'feed/public', payload: Buffer.from('p'), qos: 1 });
    assert.equal(tb.broker.sessions.get('reader-2')!.queuedCount, 2);
    // the rules change while alice is away: feed/secret is no longer hers
    writeFileSync(
      join(dir, 'acl'),
      ACL.replace('topic read feed/#', 'topic read feed/#\ntopic deny feed/secret'),
    );
    auth.reload();
    try {
      const back = await tryConnect(
        tb.url,
        login('alice', { clientId: 'reader-2', clean: false, protocolVersion: 5 }),
      );
      const got = back.got;
      assert.equal(back.sessionPresent, true);
      tb.broker.publish({ topic: 'feed/public', payload: Buffer.from('end'), qos: 1 });
      await waitFor('marker', () => got.some((m) => m.payload === 'end'), 5000);
      assert.deepEqual(
        got.map((m) => m.topic + ' ' + m.payload),
        ['feed/public p', 'feed/public end'],
      );
      await back.client.endAsync();
    } finally {
      writeFileSync(join(dir, 'acl'), ACL);
      auth.reload();
    }
  });

  test('disconnectUser ends every connection of a user at once (v5: DISCONNECT 0x87) and no one else', async () => {
    const one = await tb.connect(login('gw-b', { clientId: 'mqiot-gw-b', protocolVersion: 5 }));
    const two = await tb.connect(login('gw-b', { clientId: 'gw-b-diagnostics', protocolVersion: 4 }));
    const other = await tb.connect(login('gw-a', { clientId: 'mqiot-gw-a', protocolVersion: 5 }));
    const reason = new Promise<number>((r) => one.once('disconnect', (p) => r(p.reasonCode ?? 0)));
    const closedTwo = new Promise<void>((r) => two.once('close', () => r()));
    assert.equal(tb.broker.disconnectUser('gw-b'), 2);
    assert.equal(await reason, ReasonCode.NotAuthorized);
    await closedTwo;
    assert.equal(other.connected, true);
    assert.equal(tb.broker.disconnectUser('nobody'), 0);
  });
});

describe('sessions restored from a store', () => {
  test('keep their owner: after a restart another user is refused, the owner resumes with its queue', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqiot-identity-restart-'));
    const files = await writeAuthFiles(dir);
    const auth = new BrokerAuth({ ...DEFAULT_AUTH_CONFIG, allowAnonymous: false, ...files });
    const store = new MemorySessionStore();
    const user = (name: string): IClientOptions => ({
      username: name,
      password: PASSWORDS[name],
      clientId: 'reader-3',
      clean: false,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 600 },
    });
    const first = await startBroker({}, { hooks: auth.hooks, store });
    try {
      const alice = await first.connect(user('alice'));
      await alice.subscribeAsync('feed/#', { qos: 1 });
      await alice.endAsync();
      first.broker.publish({ topic: 'feed/public', payload: Buffer.from('kept'), qos: 1 });
    } finally {
      await first.close();
    }
    const second = await startBroker({}, { hooks: auth.hooks, store });
    try {
      const bob = await tryConnect(second.url, user('bob'));
      assert.equal(bob.code, ReasonCode.NotAuthorized);
      assert.equal(bob.got.length, 0);
      const alice = await tryConnect(second.url, user('alice'));
      assert.equal(alice.sessionPresent, true);
      await waitFor('queued message after restart', () => alice.got.some((m) => m.payload === 'kept'), 5000);
      alice.client.end(true);
    } finally {
      await second.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('without a known owner (older store files): in-flight and queued messages are checked against the identity that adopts it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mqiot-identity-store-'));
    const files = await writeAuthFiles(dir);
    const auth = new BrokerAuth({ ...DEFAULT_AUTH_CONFIG, allowAnonymous: false, ...files });
    const store = new MemorySessionStore();
    // a session written before user names were kept: owner unknown
    store.saveSession({
      clientId: 'old-1',
      expiryInterval: 3600,
      disconnectedAt: Date.now(),
      protocolVersion: 5,
    });
    store.saveSubscription('old-1', {
      filter: 'feed/#',
      qos: 1,
      noLocal: false,
      retainAsPublished: false,
      retainHandling: 0,
      subscriptionId: undefined,
    });
    const message = (topic: string) => ({
      topic,
      payload: Buffer.from(topic),
      qos: 1 as const,
      retain: false,
      properties: undefined,
      expiresAt: 0,
      origin: '',
    });
    store.saveOutgoing('old-1', {
      seq: 1,
      state: 'sent',
      packetId: 7,
      message: message('feed/secret'),
      qos: 1,
      retain: false,
      subscriptionIds: [],
    });
    store.saveOutgoing('old-1', {
      seq: 2,
      state: 'queued',
      packetId: 0,
      message: message('feed/hidden'),
      qos: 1,
      retain: false,
      subscriptionIds: [],
    });
    store.saveOutgoing('old-1', {
      seq: 3,
      state: 'queued',
      packetId: 0,
      message: message('feed/public'),
      qos: 1,
      retain: false,
      subscriptionIds: [],
    });
    const tb = await startBroker({}, { hooks: auth.hooks, store });
    try {
      const r = await tryConnect(tb.url, login('bob'));
      const got = r.got;
      assert.equal(r.ok, true);
      assert.equal(r.sessionPresent, true);
      tb.broker.publish({ topic: 'feed/public', payload: Buffer.from('end'), qos: 1 });
      await waitFor('marker', () => got.some((m) => m.payload === 'end'), 5000);
      // bob may read feed/public only: the in-flight feed/secret is not resent, feed/hidden not sent
      assert.deepEqual(
        got.map((m) => m.payload),
        ['feed/public', 'end'],
      );
      assert.equal(tb.broker.stats.inflightMessages, 0);
      assert.equal(tb.broker.stats.queuedMessages, 0);
      r.client.end(true);
    } finally {
      await tb.close();
      rmSync(dir, { recursive: true, force: true });
    }
    function login(user: string): IClientOptions {
      return {
        username: user,
        password: PASSWORDS[user],
        clientId: 'old-1',
        clean: false,
        protocolVersion: 5,
      };
    }
  });
});
