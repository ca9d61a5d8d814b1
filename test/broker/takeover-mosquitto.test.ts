/**
 * The takeover attack of issue "gateway identity", run against Debian's Mosquitto and mqiot given the
 * same password and ACL files: gw-a connects with gw-b's client id while gw-b is away with QoS 1
 * downlink queued, then stays while more downlink for gw-b arrives. Neither broker may hand gw-a any
 * of gw-b's messages. Where they differ (docs/broker.md "Identity binding"): Mosquitto lets gw-a in
 * (session present, gw-b's queue dropped by its ACL check); mqiot refuses it (0x85), so gw-b keeps
 * its session and its queue.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { IClientOptions, MqttClient } from 'mqtt';
import { BrokerAuth, DEFAULT_AUTH_CONFIG } from '../../src/broker/auth/index.ts';
import { ReasonCode } from '../../src/protocol/reason-codes.ts';
import { Mosquitto } from '../support/mosquitto.ts';
import { PASSWORDS, tryConnect, writeAuthFiles } from './identity-fixtures.ts';
import { startBroker, type TestBroker } from '../support/broker.ts';
import { waitFor } from '../support/wait.ts';

let dir: string;
let mosquitto: Mosquitto;
let mqiot: TestBroker;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mqiot-takeover-'));
  const files = await writeAuthFiles(dir);
  // mosquitto run as root switches to user "mosquitto" unless told to stay; it must read the files
  chmodSync(dir, 0o755);
  mosquitto = await Mosquitto.start(undefined, [
    'allow_anonymous false',
    `password_file ${files.passwordFile}`,
    `acl_file ${files.aclFile}`,
    `user ${userInfo().username}`,
  ]);
  const auth = new BrokerAuth({ ...DEFAULT_AUTH_CONFIG, allowAnonymous: false, ...files });
  mqiot = await startBroker({}, { hooks: auth.hooks });
});

after(async () => {
  await mosquitto?.dispose();
  await mqiot?.close();
  rmSync(dir, { recursive: true, force: true });
});

const login = (user: string, extra: IClientOptions): IClientOptions => ({
  username: user,
  password: PASSWORDS[user],
  protocolVersion: 5,
  reconnectPeriod: 0,
  ...extra,
});

interface Outcome {
  /** gw-a's CONNECT with client id mqiot-gw-b. */
  takeover: { ok: boolean; code: number; sessionPresent: boolean };
  /** Messages of gw-b (mqiot/gw/b/down) that reached gw-a, queued before or published while it was there. */
  leakedToA: string[];
  /** gw-b back afterwards: its session and what it then received. */
  ownerBack: { sessionPresent: boolean; received: string[] };
}

async function attack(url: string): Promise<Outcome> {
  const opened: MqttClient[] = [];
  try {
    // gw-b: persistent session subscribed to its downlink, then away
    const b = await tryConnect(
      url,
      login('gw-b', { clientId: 'mqiot-gw-b', clean: false, properties: { sessionExpiryInterval: 3600 } }),
    );
    assert.equal(b.ok, true);
    await b.client.subscribeAsync('mqiot/gw/b/down', { qos: 1 });
    await b.client.endAsync();
    const platform = await tryConnect(url, login('platform', { clientId: 'platform-x' }));
    opened.push(platform.client);
    for (let i = 0; i < 3; i++)
      await platform.client.publishAsync('mqiot/gw/b/down', `queued-${i}`, { qos: 1 });

    // gw-a with gw-b's client id; if refused, gw-a stays around under its own id to watch the live traffic
    const a = await tryConnect(url, login('gw-a', { clientId: 'mqiot-gw-b', clean: false }));
    const watcher = a.ok ? a : await tryConnect(url, login('gw-a', { clientId: 'mqiot-gw-a' }));
    opened.push(watcher.client);
    await watcher.client.subscribeAsync('mqiot/gw/a/down', { qos: 1 });
    await platform.client.publishAsync('mqiot/gw/b/down', 'live', { qos: 1 });
    // gw-a's own marker comes after, on the same path: once it is there, anything for gw-b would be too
    await platform.client.publishAsync('mqiot/gw/a/down', 'marker', { qos: 1 });
    await waitFor('marker at gw-a', () => watcher.got.some((m) => m.payload === 'marker'), 5000);
    const leakedToA = [...a.got, ...(watcher === a ? [] : watcher.got)]
      .filter((m) => m.topic === 'mqiot/gw/b/down')
      .map((m) => m.payload);

    // gw-b comes back
    const back = await tryConnect(url, login('gw-b', { clientId: 'mqiot-gw-b', clean: false }));
    opened.push(back.client);
    // a gateway whose session is gone subscribes again (docs/protocol.md)
    if (!back.sessionPresent) await back.client.subscribeAsync('mqiot/gw/b/down', { qos: 1 });
    await platform.client.publishAsync('mqiot/gw/b/down', 'end', { qos: 1 });
    await waitFor('end at gw-b', () => back.got.some((m) => m.payload === 'end'), 5000);
    return {
      takeover: { ok: a.ok, code: a.code, sessionPresent: a.sessionPresent },
      leakedToA,
      ownerBack: { sessionPresent: back.sessionPresent, received: back.got.map((m) => m.payload) },
    };
  } finally {
    for (const c of opened) c.end(true);
  }
}

test('takeover of mqiot-gw-b by gw-a: Mosquitto and mqiot both deliver none of gw-b’s messages to gw-a', async () => {
  const theirs = await attack(`mqtt://127.0.0.1:${mosquitto.port}`);
  const ours = await attack(mqiot.url);
  assert.deepEqual(theirs.leakedToA, []);
  assert.deepEqual(ours.leakedToA, []);
  // Mosquitto lets the wrong user in, filters by ACL, and gw-b's queued commands are gone
  assert.equal(theirs.takeover.ok, true);
  assert.equal(theirs.takeover.sessionPresent, true);
  assert.deepEqual(theirs.ownerBack, { sessionPresent: false, received: ['end'] });
  // mqiot refuses the client id, gw-b keeps its session and gets everything meant for it
  assert.deepEqual(ours.takeover, {
    ok: false,
    code: ReasonCode.ClientIdentifierNotValid,
    sessionPresent: false,
  });
  assert.deepEqual(ours.ownerBack, {
    sessionPresent: true,
    received: ['queued-0', 'queued-1', 'queued-2', 'live', 'end'],
  });
});
