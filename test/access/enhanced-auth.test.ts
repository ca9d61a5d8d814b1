// Enhanced authentication (MQTT 5 AUTH) through the access module, with two of our brokers on real
// sockets, each checking a challenge-response method: the broker sends a challenge, the client
// answers with an HMAC of it under a secret it shares with the brokers. When both brokers ask the
// same question the client's one conversation authenticates it on both; a wrong answer is refused
// with the broker's reason code; a broker that asks something else is given up for that session.
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import type { IAuthPacket } from 'mqtt-packet';
import { AccessProxy, parseAccessOptions, type ClientSession } from '../../src/access/index.ts';
import type { AuthStep, AuthenticateRequest } from '../../src/broker/index.ts';
import { ReasonCode } from '../../src/protocol/reason-codes.ts';
import { startBroker, type TestBroker } from '../support/broker.ts';
import { pingBarrier } from '../support/mqtt.ts';
import { waitFor } from '../support/wait.ts';

const METHOD = 'test-hmac';
const SECRET = 'shared-secret';

const answerTo = (challenge: Buffer | undefined, secret = SECRET) =>
  createHmac('sha256', secret)
    .update(challenge ?? Buffer.alloc(0))
    .digest();

/**
 * The brokers' side of the method. `same`: the challenge is derived from the client id, so both
 * brokers ask the same question; `nonce`: a fresh random challenge per connection.
 */
function hmacMethod(kind: 'same' | 'nonce', seen: string[]) {
  const challenges = new Map<string, Buffer>();
  return (req: AuthenticateRequest, step: number): AuthStep => {
    if (req.authenticationMethod !== METHOD) return { reasonCode: ReasonCode.BadAuthenticationMethod };
    if (step === 0) {
      const challenge =
        kind === 'same' ? createHash('sha256').update(req.clientId).digest() : randomBytes(32);
      challenges.set(req.clientId, challenge);
      return { done: false, authenticationData: challenge };
    }
    const ok = req.authenticationData?.equals(answerTo(challenges.get(req.clientId))) === true;
    seen.push(`${req.clientId}:${ok ? 'ok' : 'wrong'}`);
    return ok
      ? { done: true, authenticationData: Buffer.from('welcome') }
      : { reasonCode: ReasonCode.NotAuthorized, reasonString: 'wrong answer' };
  };
}

interface Site {
  brokers: [TestBroker, TestBroker];
  seen: [string[], string[]];
  proxy: AccessProxy;
  port: number;
}

async function site(t: TestContext, kinds: ['same' | 'nonce', 'same' | 'nonce']): Promise<Site> {
  const seen: [string[], string[]] = [[], []];
  const brokers = [
    await startBroker({}, { hooks: { extendedAuth: hmacMethod(kinds[0], seen[0]) } }),
    await startBroker({}, { hooks: { extendedAuth: hmacMethod(kinds[1], seen[1]) } }),
  ] as [TestBroker, TestBroker];
  t.after(() => Promise.all(brokers.map((b) => b.close())));
  const proxy = new AccessProxy(
    parseAccessOptions({
      listenHost: '127.0.0.1',
      listenPort: 0,
      broker1: `mqtt://127.0.0.1:${brokers[0].port}`,
      broker2: `mqtt://127.0.0.1:${brokers[1].port}`,
      backoffBaseMs: 50,
      backoffCapMs: 300,
      // generous: both cores may be busy with other work
      connectTimeoutMs: 10_000,
    }),
  );
  const { port } = await proxy.listen();
  t.after(() => proxy.close());
  return { brokers, seen, proxy, port };
}

/** An MQTT.js client doing the method; resolves on CONNACK success, rejects with the refusal. */
async function authClient(
  t: TestContext,
  s: Site,
  clientId: string,
  secret = SECRET,
): Promise<{ client: MqttClient; challenges: Buffer[]; auths: IAuthPacket[]; useSecret(s: string): void }> {
  const challenges: Buffer[] = [];
  /** Every AUTH the client received, also after the CONNACK (re-authentication). */
  const auths: IAuthPacket[] = [];
  const client = mqtt.connect(`mqtt://127.0.0.1:${s.port}`, {
    protocolVersion: 5,
    clientId,
    reconnectPeriod: 0,
    connectTimeout: 20_000,
    properties: { authenticationMethod: METHOD, authenticationData: Buffer.from(clientId) },
  });
  client.handleAuth = (packet: IAuthPacket, callback) => {
    auths.push(packet);
    const challenge = packet.properties?.authenticationData;
    if (challenge) challenges.push(challenge);
    callback(undefined, {
      cmd: 'auth',
      reasonCode: ReasonCode.ContinueAuthentication,
      properties: { authenticationMethod: METHOD, authenticationData: answerTo(challenge, secret) },
    });
  };
  t.after(() => client.endAsync(true));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
  return { client, challenges, auths, useSecret: (next) => (secret = next) };
}

/** Starts a re-authentication: AUTH 0x19 (MQTT.js has no call for it; its AUTH handling answers the rest). */
function reauthenticate(client: MqttClient, data: Buffer): void {
  (client as unknown as { _sendPacket(p: IAuthPacket): void })._sendPacket({
    cmd: 'auth',
    reasonCode: ReasonCode.ReAuthenticate,
    properties: { authenticationMethod: METHOD, authenticationData: data },
  });
}

function sessionOf(s: Site, clientId: string): ClientSession | undefined {
  return [...s.proxy.sessions].find((x) => x.clientId === clientId);
}

test('AUTH through the module: one challenge answered by the client authenticates it on both brokers', async (t) => {
  const s = await site(t, ['same', 'same']);
  const { client, challenges } = await authClient(t, s, 'auth-both');
  assert.equal(challenges.length, 1, 'the client answered one challenge');
  await waitFor(
    'both links up',
    () => sessionOf(s, 'auth-both')?.links.every((l) => l.isUp) === true,
    10_000,
  );
  assert.deepEqual(s.seen, [['auth-both:ok'], ['auth-both:ok']]);
  // the session works: a message published through the module reaches Broker1's subscribers
  const watch = await s.brokers[0].connect();
  await watch.subscribeAsync('auth/x', { qos: 1 });
  const got: string[] = [];
  watch.on('message', (_topic, payload) => got.push(payload.toString()));
  await client.publishAsync('auth/x', 'hello', { qos: 1 });
  await waitFor('the message on Broker1', () => got.length === 1, 10_000);
  assert.deepEqual(got, ['hello']);
});

test('AUTH through the module: a wrong answer is refused with the broker’s reason code', async (t) => {
  const s = await site(t, ['same', 'same']);
  await assert.rejects(authClient(t, s, 'auth-wrong', 'not-the-secret'), (err: Error & { code?: number }) => {
    assert.equal(err.code, ReasonCode.NotAuthorized, err.message);
    return true;
  });
  // both brokers judged the same wrong answer; nobody was let in
  await waitFor('both brokers refused', () => s.seen[0].length === 1 && s.seen[1].length === 1, 10_000);
  assert.deepEqual(s.seen, [['auth-wrong:wrong'], ['auth-wrong:wrong']]);
  await waitFor('the session ended', () => sessionOf(s, 'auth-wrong') === undefined, 10_000);
});

test('AUTH through the module: a broker asking a different challenge is given up, the client runs on the other', async (t) => {
  // Broker2 asks a fresh nonce: the client answered Broker1's question, not this one
  const s = await site(t, ['same', 'nonce']);
  const { client } = await authClient(t, s, 'auth-differs');
  const session = sessionOf(s, 'auth-differs')!;
  await waitFor('Broker1 up', () => session.links[0].isUp, 10_000);
  await pingBarrier(client); // the module has handled everything so far
  assert.equal(session.links[1].state, 'closed', 'Broker2 given up for this session');
  assert.deepEqual(
    s.seen,
    [['auth-differs:ok'], []],
    'Broker2 was never sent an answer to a question it did not ask',
  );
  assert.equal(session.active, 0);
});

test('AUTH through the module: a link that reconnects later is answered from the recorded conversation', async (t) => {
  const s = await site(t, ['same', 'same']);
  await authClient(t, s, 'auth-replay');
  const session = sessionOf(s, 'auth-replay')!;
  await waitFor('both links up', () => session.links.every((l) => l.isUp), 10_000);
  // Broker2 drops the module's connection: the link reconnects by itself and must authenticate again
  const before = s.seen[1].length;
  const link = session.links[1] as unknown as { socket?: { destroy(): void } };
  link.socket?.destroy();
  await waitFor('Broker2 link back', () => s.seen[1].length > before && session.links[1].isUp, 10_000);
  assert.deepEqual(s.seen[1], ['auth-replay:ok', 'auth-replay:ok']);
});

test('re-authentication through the module: AUTH 0x19 goes to both brokers, one conversation re-authenticates on both', async (t) => {
  const s = await site(t, ['same', 'same']);
  const { client, auths } = await authClient(t, s, 'reauth-both');
  const session = sessionOf(s, 'reauth-both')!;
  await waitFor('both links up', () => session.links.every((l) => l.isUp), 10_000);
  const before = auths.length;
  reauthenticate(client, Buffer.from('reauth-both'));
  const done = await waitFor('AUTH 0x00 at the client', () =>
    auths.slice(before).find((a) => a.reasonCode === ReasonCode.Success),
  );
  assert.equal(done.properties?.authenticationData?.toString(), 'welcome', "the driver's last word");
  assert.deepEqual(
    auths.slice(before).map((a) => a.reasonCode),
    [ReasonCode.ContinueAuthentication, ReasonCode.Success],
    'one challenge, then success',
  );
  await waitFor('both brokers judged the answer', () => s.seen.every((seen) => seen.length === 2), 10_000);
  assert.deepEqual(s.seen, [
    ['reauth-both:ok', 'reauth-both:ok'],
    ['reauth-both:ok', 'reauth-both:ok'],
  ]);
  // the session goes on, with both brokers
  await pingBarrier(client);
  assert.ok(
    session.links.every((l) => l.isUp),
    'no broker given up',
  );
  const watch = await s.brokers[0].connect();
  await watch.subscribeAsync('reauth/x', { qos: 1 });
  const got: string[] = [];
  watch.on('message', (_topic, payload) => got.push(payload.toString()));
  await client.publishAsync('reauth/x', 'still here', { qos: 1 });
  await waitFor('the message on Broker1', () => got.length === 1, 10_000);
});

test('re-authentication through the module: a wrong answer ends the session with the broker’s reason code', async (t) => {
  const s = await site(t, ['same', 'same']);
  const { client, useSecret } = await authClient(t, s, 'reauth-wrong');
  const session = sessionOf(s, 'reauth-wrong')!;
  await waitFor('both links up', () => session.links.every((l) => l.isUp), 10_000);
  const disconnects: number[] = [];
  client.on('disconnect', (packet) => disconnects.push(packet.reasonCode ?? 0));
  useSecret('not-the-secret');
  reauthenticate(client, Buffer.from('reauth-wrong'));
  await waitFor('DISCONNECT at the client', () => disconnects.length === 1, 10_000);
  assert.deepEqual(disconnects, [ReasonCode.NotAuthorized]);
  await waitFor('the session ended', () => sessionOf(s, 'reauth-wrong') === undefined, 10_000);
  assert.equal(s.seen[0][1] ?? s.seen[1][1], 'reauth-wrong:wrong');
});
