// Linkage rules at the edge: the edge copies the cloud's rules over its HTTP API and keeps the copy in
// its store; while the cloud link is up the cloud acts and the edge's copy stands by (one command,
// not two); in a cloud outage the edge carries the rule out itself; a failed pull keeps the last copy.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { AllInOne } from '../../src/app/all-in-one.ts';
import type { PlatformApp } from '../../src/app/platform-app.ts';
import type { CloudLink } from '../../src/app/edge/cloud-link.ts';
import { systemClock } from '../../src/platform/clock.ts';
import { RulesMirror, RulesMirrorError } from '../../src/platform/rules/rules-mirror.ts';
import {
  decodeEnvelope,
  encodeEnvelope,
  type CmdEnvelope,
  type Envelope,
} from '../../src/protocol/envelope.ts';
import { type TcpBroker } from '../support/broker.ts';
import { startEdgeAndCloud, type EdgeAndCloud } from '../support/live.ts';
import { connectGateway } from '../support/mqtt.ts';
import { freePort } from '../support/ports.ts';
import { waitFor } from '../support/wait.ts';
import { bearer, testToken } from '../support/auth.ts';

const GW = 'site-r';

/** Modbus TCP read-holding-registers answer: holding.3 = `value`. */
function modbusFrame(value: number): Uint8Array {
  return Uint8Array.from([0, 1, 0, 0, 0, 7, 1, 3, 4, value >> 8, value & 0xff, 0, 0]);
}

const RULE = {
  id: 'pm-high',
  when: { device: 'pm-1', point: 'holding.3', op: '>', value: 100 },
  then: [
    {
      type: 'command',
      device: 'pm-1',
      action: 'write-single-register',
      params: { unit: 1, address: 3, value: 0 },
    },
  ],
};

describe('linkage rules at the edge (copied from the cloud, run locally in an outage)', () => {
  let dir: string;
  let site: EdgeAndCloud;
  let cloud: TcpBroker;
  let cloudApp: PlatformApp;
  let edge: AllInOne;
  let link: CloudLink;
  let mirror: RulesMirror;
  let gateway: MqttClient;
  const cmds: CmdEnvelope[] = [];
  let seq = 1;
  let frameSeq = 0;

  const up = (e: Envelope) => gateway.publishAsync(`mqiot/gw/${GW}/up`, encodeEnvelope(e), { qos: 1 });
  const reading = (value: number) => {
    const ts = Date.now();
    return up({
      v: 1,
      k: 'data',
      gw: GW,
      seq: ++seq,
      ts,
      frames: [
        {
          dev: 'pm-1',
          c: 'modbus-tcp',
          ts,
          seq: frameSeq++,
          raw: modbusFrame(value),
          ctx: { unit: 1, function: 3, start: 3, count: 2 },
        },
      ],
    });
  };
  const latest = async (app: PlatformApp, value: number) =>
    waitFor(`${value} stored`, async () => {
      const p = (await app.store.latest('pm-1')).find((x) => x.name === 'holding.3');
      if (p?.value !== value) return false;
      await app.platform.whenIdle();
      await app.platform.rules.whenIdle();
      return true;
    });
  const history = async (app: PlatformApp) => app.platform.rules.history('pm-high');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-rules-edge-'));
    site = await startEdgeAndCloud(
      dir,
      {
        clientId: 'mqiot-platform-cloud-r',
        http: { host: '127.0.0.1', port: 0 },
        config: { commandTimeoutMs: 5000 },
      },
      'mqiot-edge-rules-test',
    );
    ({ cloud, cloudApp, edge, link } = site);
    gateway = await connectGateway(edge.mqttUrl, GW);
    // The gateway executes every command and acknowledges it.
    gateway.on('message', (_t, payload) => {
      const e = decodeEnvelope(payload);
      if (e.k !== 'cmd') return;
      cmds.push(e);
      void up({ v: 1, k: 'cmd-result', gw: GW, seq: ++seq, ts: Date.now(), id: e.id, dev: e.dev, ok: true });
    });
    await waitFor('cloud link up', () => link.connected);
    await up({
      v: 1,
      k: 'birth',
      gw: GW,
      seq: 1,
      ts: Date.now(),
      epoch: 'e1',
      devices: [{ dev: 'pm-1', c: 'modbus-tcp' }],
    });
    await waitFor('device at the cloud', async () => (await cloudApp.store.getDevice('pm-1')) !== undefined);
  });

  after(async () => {
    await mirror?.stop();
    await gateway?.endAsync();
    await site?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the edge copies the cloud rules into its own store', async () => {
    const created = await fetch(`${cloudApp.url}/api/rules`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(await testToken(cloudApp.store, 'operator')) },
      body: JSON.stringify(RULE),
    });
    assert.equal(created.status, 201);
    mirror = new RulesMirror(
      { engine: edge.app.platform.rules, store: edge.app.store, clock: systemClock },
      {
        cloudApiUrl: cloudApp.url!,
        cloudApiToken: await testToken(cloudApp.store, 'viewer'),
        cloudUp: () => link.connected,
        intervalMs: 60_000,
      },
    );
    await mirror.start();
    assert.deepEqual([...mirror.mirrored], ['pm-high']);
    const copy = await edge.app.store.getRule('pm-high');
    assert.deepEqual(copy?.definition.when, RULE.when);
  });

  it('link up: the cloud acts, the edge copy stands by (one command, not two) but follows the state', async () => {
    await reading(250);
    await latest(edge.app, 250);
    await latest(cloudApp, 250);
    const cmd = await waitFor('command at the gateway', () => cmds[0]);
    await waitFor(
      'executed in the cloud',
      async () => (await cloudApp.store.getCommand(cmd.id))?.state === 'executed',
    );
    // Barrier: the edge copy has evaluated the reading (its state follows it); had it acted, its own
    // command would be in its store and on the gateway's downlink by then.
    await waitFor('the edge copy fired', () => edge.app.platform.rules.status('pm-high')['pm-1'] === 'fired');
    assert.equal(cmds.length, 1);
    assert.equal((await history(cloudApp)).length, 1);
    assert.equal((await history(edge.app)).length, 0);
    assert.equal(edge.app.platform.rules.status('pm-high')['pm-1'], 'fired');
    await reading(50); // re-arms both
    await latest(edge.app, 50);
    await latest(cloudApp, 50);
  });

  it('cloud outage: the edge carries the rule out itself and the command is executed at the edge', async () => {
    await cloud.down();
    await waitFor('link down', () => !link.connected);
    await reading(300);
    await latest(edge.app, 300);
    const cmd = await waitFor('command from the edge', () => cmds[1]);
    await waitFor(
      'executed at the edge',
      async () => (await edge.app.store.getCommand(cmd.id))?.state === 'executed',
    );
    const fired = await history(edge.app);
    assert.equal(fired.length, 1);
    assert.equal(fired[0]?.detail.commandId, cmd.id);
    assert.equal(fired[0]?.detail.value, 300);
    assert.equal((await history(cloudApp)).length, 1, 'the cloud saw nothing meanwhile');
  });

  it('a pull that fails keeps the last copy (an edge restarted in an outage still has its rules)', async () => {
    const port = await freePort(); // nothing listens there
    const offline = new RulesMirror(
      { engine: edge.app.platform.rules, store: edge.app.store, clock: systemClock },
      { cloudApiUrl: `http://127.0.0.1:${port}`, cloudUp: () => false },
    );
    await offline.start();
    await assert.rejects(offline.pull(), RulesMirrorError);
    await offline.stop();
    assert.deepEqual([...offline.mirrored], ['pm-high']);
    assert.ok(await edge.app.store.getRule('pm-high'));
    await cloud.listen();
    await waitFor('link back', () => link.connected);
  });
});
