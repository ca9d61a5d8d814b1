// Gateway identity and uplink integrity against the real all-in-one (broker on loopback TCP, platform
// in process, SQLite): each attack of issue 11 that concerns the platform, played with plain MQTT
// clients, and the credentials the platform issues.
import { testBrokerConfig } from '../support/live.ts';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hashPassword } from '../../src/broker/auth/index.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { createLogger } from '../../src/log.ts';
import { startAllInOne, type AllInOne } from '../../src/app/all-in-one.ts';
import type { PlatformConfig } from '../../src/platform/config.ts';
import { encodeEnvelope, type Envelope } from '../../src/protocol/envelope.ts';
import { bearer, testToken } from '../support/auth.ts';
import { waitFor } from '../support/wait.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'mqiot-gwid-'));
  dirs.push(d);
  return d;
}

/** Log lines written by the system under test, parsed. */
class LogLines extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    for (const l of chunk.toString().split('\n')) if (l.trim()) this.lines.push(JSON.parse(l));
    done();
  }
}

async function start(
  dataDir: string,
  auth: { allowAnonymous: boolean; gatewayAcl?: boolean; passwordFile?: string },
  platform: Partial<PlatformConfig> = {},
  logs?: LogLines,
): Promise<AllInOne> {
  return startAllInOne({
    broker: testBrokerConfig({
      auth: {
        allowAnonymous: auth.allowAnonymous,
        gatewayAcl: auth.gatewayAcl ?? true,
        passwordFile: auth.passwordFile ?? null,
      },
    }),
    dataDir,
    http: { host: '127.0.0.1', port: 0 },
    platform: { tickMs: 100_000, ...platform },
    logger: createLogger({ level: 'info', destination: logs ?? new LogLines() }),
  });
}

const data = (gw: string, seq: number, value = seq): Buffer =>
  encodeEnvelope({
    v: 1,
    k: 'data',
    gw,
    seq,
    ts: Date.now(),
    frames: [
      { dev: `${gw}-dev`, c: 'modbus-tcp', ts: Date.now(), seq, raw: Uint8Array.from([1, 2, value & 0xff]) },
    ],
  } as Envelope);
const birth = (gw: string, seq: number, epoch: string): Buffer =>
  encodeEnvelope({ v: 1, k: 'birth', gw, seq, ts: Date.now(), epoch, devices: [] } as Envelope);

async function connect(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0, ...options });
}
/** Resolves with the publish error (undefined: acknowledged with success). */
function publish(client: MqttClient, topic: string, payload: Buffer): Promise<Error | undefined> {
  return new Promise((resolve) =>
    client.publish(topic, payload, { qos: 1 }, (err) => resolve(err ?? undefined)),
  );
}
/** The group seqs stored for a gateway. */
async function storedSeqs(system: AllInOne, gw: string): Promise<number[]> {
  const frames = await system.app.store.frames({ gatewayId: gw, limit: 1000 });
  return frames.map((f) => f.groupSeq).sort((a, b) => a - b);
}
/** Connects and reports how the CONNECT ended: 0 on success, else the CONNACK reason code. */
async function connackCode(url: string, options: IClientOptions): Promise<number> {
  try {
    const c = await connect(url, options);
    await c.endAsync();
    return 0;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

describe('dedup cannot be poisoned by a forged seq', () => {
  it('lab mode: an anonymous client forges a huge seq; the real gateway’s data is still stored, also after a restart', async () => {
    const dir = tempDir();
    let system = await start(dir, { allowAnonymous: true });
    const up = 'mqiot/gw/site-a/up';
    const gateway = await connect(system.mqttUrl, { clientId: 'mqiot-gw-site-a' });
    const attacker = await connect(system.mqttUrl, { clientId: 'attacker' });
    try {
      assert.equal(await publish(gateway, up, birth('site-a', 1, 'e1')), undefined);
      assert.equal(await publish(gateway, up, data('site-a', 2)), undefined);
      // the attack: one data group with a huge seq; refused (not taken as the new mark)
      const forged = await publish(attacker, up, data('site-a', 1_000_000_000_000));
      assert.ok(forged, 'the forged group is refused (PUBACK ≥ 0x80)');
      // a forged birth far ahead cannot become the window's anchor either
      await publish(attacker, up, birth('site-a', 2_000_000_000_000, 'e1'));
      assert.ok(await publish(attacker, up, data('site-a', 1_999_999_999_999)));
      assert.equal(await publish(gateway, up, data('site-a', 3)), undefined);
      assert.deepEqual(await storedSeqs(system, 'site-a'), [2, 3]);
      assert.ok((system.app.platform.metrics.uplinkRejections()['seq-window'] ?? 0) >= 2);
      const events = await system.app.store.listEvents({ subjectId: 'site-a', kind: 'uplink-rejected' });
      assert.ok(events.some((e) => e.detail.reason === 'seq-window'));
    } finally {
      gateway.end(true);
      attacker.end(true);
      await system.close();
    }
    // restart: the mark was stored with the data; a resend is not stored twice, new data is
    system = await start(dir, { allowAnonymous: true });
    const again = await connect(system.mqttUrl, { clientId: 'mqiot-gw-site-a' });
    const attacker2 = await connect(system.mqttUrl, { clientId: 'attacker' });
    try {
      const mark = await system.app.store.getStreamMark('site-a', 'e1');
      assert.equal(mark.appliedSeq, 3);
      assert.ok(await publish(attacker2, up, data('site-a', 5_000_000)));
      assert.equal(await publish(again, up, data('site-a', 3)), undefined);
      assert.equal(await publish(again, up, data('site-a', 4)), undefined);
      assert.deepEqual(await storedSeqs(system, 'site-a'), [2, 3, 4]);
    } finally {
      again.end(true);
      attacker2.end(true);
      await system.close();
    }
  });

  it('a trusted birth lets a gateway resume far ahead after a long outage (its full queue dropped the oldest)', async () => {
    const dir = tempDir();
    const system = await start(dir, { allowAnonymous: false }, { unknownGateways: 'register' });
    try {
      const issued = await system.app.platform.credentials.create('site-long');
      const gw = await connect(system.mqttUrl, {
        clientId: 'mqiot-gw-site-long',
        username: issued.username,
        password: issued.password,
      });
      const up = 'mqiot/gw/site-long/up';
      assert.equal(await publish(gw, up, birth('site-long', 1, 'e1')), undefined);
      assert.equal(await publish(gw, up, data('site-long', 2)), undefined);
      // 50,000 messages later (most dropped by the full queue), the gateway reconnects
      assert.equal(await publish(gw, up, birth('site-long', 50_002, 'e1')), undefined);
      assert.equal(await publish(gw, up, data('site-long', 49_000)), undefined);
      assert.deepEqual(await storedSeqs(system, 'site-long'), [2, 49_000]);
      gw.end(true);
    } finally {
      await system.close();
    }
  });

  it('20,000 invalid gateway messages and 2,000 forged ones write a handful of log lines and no stack trace', async () => {
    const logs = new LogLines();
    const system = await start(tempDir(), { allowAnonymous: true }, {}, logs);
    const client = await connect(system.mqttUrl, { clientId: 'noisy' });
    try {
      const bad = encodeEnvelope({
        v: 1,
        k: 'data',
        gw: 'site-n',
        seq: 1,
        ts: 1,
        frames: [{ dev: 'd', c: 'x', ts: 1, seq: 1, raw: Uint8Array.of(1) }],
      } as Envelope);
      // a frame without `dev` cannot be attributed: the envelope does not validate
      const noDevice = Buffer.from(
        JSON.stringify({
          v: 1,
          k: 'data',
          gw: 'site-n',
          seq: 2,
          ts: 1,
          frames: [{ c: 'modbus-rtu', ts: 1, seq: 1, raw: '01' }],
        }),
      );
      for (let i = 0; i < 10_000; i++) {
        client.publish('mqiot/gw/site-n/up', noDevice, { qos: 0 });
        client.publish('mqiot/gw/site-n/up', Buffer.from('not cbor'), { qos: 0 });
      }
      await publish(client, 'mqiot/gw/site-n/up', bad);
      await waitFor(
        'every bad message counted',
        () => (system.app.platform.metrics.uplinkRejections()['invalid-envelope'] ?? 0) >= 20_000,
        60_000,
      );
      // and 2,000 forged groups with huge seqs, each refused (PUBACK 0x80)
      const refusals = await Promise.all(
        Array.from({ length: 2000 }, (_, i) =>
          publish(client, 'mqiot/gw/site-n/up', data('site-n', 10 ** 12 + i)),
        ),
      );
      assert.ok(refusals.every((e) => e !== undefined));
      assert.equal(system.app.platform.metrics.uplinkRejections()['seq-window'], 2000);
      const warnings = logs.lines.filter((l) => (l.level as number) >= 40);
      assert.ok(warnings.length <= 5, `${warnings.length} warning lines`);
      assert.ok(
        warnings.every((l) => !JSON.stringify(l).includes('    at ')),
        'no stack trace',
      );
    } finally {
      client.end(true);
      await system.close();
    }
  });
});

describe('provenance: only gateway X speaks for gateway X', () => {
  it('gw-a cannot publish as gw-b: refused by the broker ACL, and by the platform when the ACL is off; nothing stored', async () => {
    for (const gatewayAcl of [true, false]) {
      const system = await start(tempDir(), { allowAnonymous: false, gatewayAcl });
      try {
        const a = await system.app.platform.credentials.create('a');
        await system.app.platform.credentials.create('b');
        await system.app.store.ensureGateway('b', Date.now());
        const gwA = await connect(system.mqttUrl, {
          clientId: 'mqiot-gw-a',
          username: a.username,
          password: a.password,
        });
        const refused = await publish(gwA, 'mqiot/gw/b/up', data('b', 1));
        assert.ok(refused, `refused (gatewayAcl ${gatewayAcl})`);
        // its own topic with an envelope naming b: dropped
        assert.equal(await publish(gwA, 'mqiot/gw/a/up', data('b', 2)), undefined);
        await system.app.platform.whenIdle();
        assert.deepEqual(await storedSeqs(system, 'b'), []);
        if (!gatewayAcl)
          assert.equal(system.app.platform.metrics.uplinkRejections()['publisher-another-gateway'], 1);
        gwA.end(true);
      } finally {
        await system.close();
      }
    }
  });

  it('an edge relay listed with relayUsers may forward any gateway; another password-file user may not', async () => {
    const dir = tempDir();
    const passwd = join(dir, 'passwd');
    writeFileSync(passwd, `edge-1:${await hashPassword('e1')}\nviewer:${await hashPassword('v1')}\n`);
    const system = await start(
      dir,
      { allowAnonymous: false, passwordFile: passwd },
      { relayUsers: ['edge-1'] },
    );
    const edge = await connect(system.mqttUrl, { clientId: 'edge-1', username: 'edge-1', password: 'e1' });
    const viewer = await connect(system.mqttUrl, { clientId: 'viewer', username: 'viewer', password: 'v1' });
    await system.app.store.ensureGateway('site-r', Date.now()); // known (unknown ones wait as pending)
    try {
      assert.equal(await publish(edge, 'mqiot/gw/site-r/up', data('site-r', 1)), undefined);
      assert.ok(await publish(viewer, 'mqiot/gw/site-r/up', data('site-r', 2)));
      assert.deepEqual(await storedSeqs(system, 'site-r'), [1]);
      assert.equal(system.app.platform.metrics.uplinkRejections()['publisher-not-the-gateway'], 1);
    } finally {
      edge.end(true);
      viewer.end(true);
      await system.close();
    }
  });

  it('an unknown gateway waits as pending (its uplink refused, nothing lost) until an operator activates it', async () => {
    const system = await start(tempDir(), { allowAnonymous: true }, { unknownGateways: 'pending' });
    const client = await connect(system.mqttUrl, { clientId: 'mqiot-gw-newcomer' });
    try {
      assert.ok(await publish(client, 'mqiot/gw/newcomer/up', data('newcomer', 1)));
      assert.equal((await system.app.store.getGateway('newcomer'))?.lifecycle, 'pending');
      const res = await fetch(`${system.httpUrl}/api/gateways/newcomer`, {
        method: 'PATCH',
        headers: {
          'content-type': 'application/json',
          ...bearer(await testToken(system.app.store, 'operator')),
        },
        body: JSON.stringify({ lifecycle: 'active' }),
      });
      assert.equal(res.status, 200);
      assert.equal(await publish(client, 'mqiot/gw/newcomer/up', data('newcomer', 1)), undefined);
      assert.deepEqual(await storedSeqs(system, 'newcomer'), [1]);
    } finally {
      client.end(true);
      await system.close();
    }
  });
});

describe('gateway credentials issued by the platform (HTTP API, embedded broker)', () => {
  it('create → connect; 409 twice; rotate → old refused, new works; revoke → disconnected at once, cannot reconnect', async () => {
    const system = await start(tempDir(), { allowAnonymous: false });
    // gateway credentials are an operator's job (docs/threat-model.md)
    const auth = bearer(await testToken(system.app.store, 'operator'));
    const api = (method: string, path: string, body?: unknown) =>
      fetch(`${system.httpUrl}${path}`, {
        method,
        headers: body === undefined ? auth : { 'content-type': 'application/json', ...auth },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    try {
      assert.equal(await connackCode(system.mqttUrl, { clientId: 'anon' }), 135, 'anonymous refused (0x87)');
      const created = await api('POST', '/api/gateways', { id: 'site-x', name: 'Site X', location: 'roof' });
      assert.equal(created.status, 201);
      const first = (await created.json()) as { id: string; username: string; password: string };
      assert.equal(first.username, 'gw-site-x');
      assert.ok(Buffer.from(first.password, 'base64url').length >= 16, '≥ 128 bits');
      assert.equal((await system.app.store.getGateway('site-x'))?.name, 'Site X');
      const stored = await system.app.store.getGatewayCredential('site-x');
      assert.match(stored!.hash, /^\$7\$/);
      assert.ok(!stored!.hash.includes(first.password));
      const twice = await api('POST', '/api/gateways', { id: 'site-x' });
      assert.equal(twice.status, 409);
      assert.equal(((await twice.json()) as { error: { code: string } }).error.code, 'conflict');
      const bad = await api('POST', '/api/gateways', { id: 'a/b' });
      assert.equal(bad.status, 400);

      const login = (password: string): IClientOptions => ({
        clientId: 'mqiot-gw-site-x',
        username: 'gw-site-x',
        password,
      });
      assert.equal(await connackCode(system.mqttUrl, login('wrong')), 134, 'bad password (0x86)');
      const gw = await connect(system.mqttUrl, login(first.password));
      const up = 'mqiot/gw/site-x/up';
      assert.equal(await publish(gw, up, data('site-x', 1)), undefined);
      assert.deepEqual(await storedSeqs(system, 'site-x'), [1]);

      const closed = new Promise<void>((resolve) => gw.once('close', () => resolve()));
      const rotated = await api('POST', '/api/gateways/site-x/credentials');
      assert.equal(rotated.status, 200);
      const second = (await rotated.json()) as { password: string };
      assert.notEqual(second.password, first.password);
      await closed;
      assert.equal(await connackCode(system.mqttUrl, login(first.password)), 134, 'old password refused');
      const gw2 = await connect(system.mqttUrl, login(second.password));
      const cut = new Promise<void>((resolve) => gw2.once('close', () => resolve()));
      const revoked = await api('DELETE', '/api/gateways/site-x/credentials');
      assert.equal(revoked.status, 200);
      assert.deepEqual(await revoked.json(), { id: 'site-x', revoked: true, disconnected: 1 });
      await cut;
      assert.equal(await connackCode(system.mqttUrl, login(second.password)), 135, 'revoked: refused');
      assert.equal((await api('DELETE', '/api/gateways/nope/credentials')).status, 404);
      const doc = (await (await api('GET', '/api/docs')).json()) as { paths: Record<string, unknown> };
      assert.ok(doc.paths['/api/gateways/{id}/credentials']);
      const metrics = await (await api('GET', '/api/metrics')).text();
      assert.match(metrics, /mqiot_platform_uplinks_rejected_total/);

      // deleting a gateway takes its login with it: connected → cut, and refused afterwards
      const y = (await (await api('POST', '/api/gateways', { id: 'site-y' })).json()) as { password: string };
      const asY: IClientOptions = {
        clientId: 'mqiot-gw-site-y',
        username: 'gw-site-y',
        password: y.password,
      };
      const gwY = await connect(system.mqttUrl, asY);
      const cutY = new Promise<void>((resolve) => gwY.once('close', () => resolve()));
      assert.equal((await api('DELETE', '/api/gateways/site-y?data=keep')).status, 200);
      await cutY;
      gwY.end(true);
      assert.equal(await connackCode(system.mqttUrl, asY), 135, 'a deleted gateway cannot log in');
    } finally {
      await system.close();
    }
  });
});
