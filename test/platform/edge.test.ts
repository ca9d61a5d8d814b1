// An edge bridged to a cloud: uplinks reach the cloud platform; during a cloud outage they wait in the
// edge's disk queue and arrive afterwards, in order and once; cloud commands reach the gateway.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { AllInOne } from '../../src/app/all-in-one.ts';
import type { PlatformApp } from '../../src/app/platform-app.ts';
import type { CloudLink } from '../../src/app/edge/cloud-link.ts';
import { decodeEnvelope, encodeEnvelope, type Envelope } from '../../src/protocol/envelope.ts';
import { type TcpBroker } from '../support/broker.ts';
import { startEdgeAndCloud, type EdgeAndCloud } from '../support/live.ts';
import { connectGateway } from '../support/mqtt.ts';
import { waitFor } from '../support/wait.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const DLT_ENERGY = hex('68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16');

describe('edge bridged to a cloud', () => {
  let dir: string;
  let site: EdgeAndCloud;
  let cloud: TcpBroker;
  let cloudApp: PlatformApp;
  let edge: AllInOne;
  let link: CloudLink;
  let gateway: MqttClient;
  const down: Envelope[] = [];
  let seq = 1;

  const up = (e: Envelope) => gateway.publishAsync('mqiot/gw/site-e/up', encodeEnvelope(e), { qos: 1 });
  const data = () => {
    const now = Date.now();
    seq++;
    return up({
      v: 1,
      k: 'data',
      gw: 'site-e',
      seq,
      ts: now,
      frames: [{ dev: 'm-1', c: 'dlt645-2007', ts: now, seq, raw: DLT_ENERGY }],
    });
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-edge-'));
    site = await startEdgeAndCloud(
      dir,
      { clientId: 'mqiot-platform-cloud', shareGroup: 'platform', config: { commandTimeoutMs: 5000 } },
      'mqiot-edge-test',
    );
    ({ cloud, cloudApp, edge, link } = site);
    gateway = await connectGateway(edge.mqttUrl, 'site-e');
    gateway.on('message', (_t, payload) => down.push(decodeEnvelope(payload)));
  });

  after(async () => {
    await gateway?.endAsync();
    await site?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('decodes at the edge and forwards the uplinks to the cloud platform', async () => {
    await up({
      v: 1,
      k: 'birth',
      gw: 'site-e',
      seq: 1,
      ts: Date.now(),
      epoch: 'e1',
      devices: [{ dev: 'm-1', c: 'dlt645-2007' }],
    });
    await data();
    await waitFor('edge reading', async () => (await edge.app.store.countPoints('m-1')) === 1);
    await waitFor('cloud reading', async () => (await cloudApp.store.countPoints('m-1')) === 1);
    assert.equal((await cloudApp.store.getDevice('m-1'))?.contractId, 'dlt645-2007');
  });

  it('queues on disk through a cloud outage and delivers afterwards, in order, once', async () => {
    await cloud.down();
    for (let i = 0; i < 5; i++) await data();
    await waitFor('queued at the edge', () => link.queue.depth === 5);
    assert.equal(await cloudApp.store.countPoints('m-1'), 1, 'nothing reached the cloud meanwhile');
    assert.equal(await edge.app.store.countPoints('m-1'), 6, 'the edge kept working');
    await cloud.listen();
    // The cloud applies a gateway's ordered messages only in increasing seq: all 6 stored means in order.
    await waitFor('delivered', async () => (await cloudApp.store.countPoints('m-1')) === 6);
    await waitFor('queue empty', () => link.queue.depth === 0);
    const frames = await cloudApp.store.frames({ deviceId: 'm-1', limit: 10 });
    assert.deepEqual(
      frames.map((f) => f.groupSeq).sort((a, b) => a - b),
      [2, 3, 4, 5, 6, 7],
    );
  });

  it('a command from the cloud platform reaches the gateway through the edge', async () => {
    const record = await cloudApp.platform.commandService.sendCommand({
      deviceId: 'm-1',
      action: 'read',
      params: { di: '00010000' },
    });
    const cmd = await waitFor('cmd at the gateway', () =>
      down.find((e) => e.k === 'cmd' && e.id === record.id),
    );
    assert.equal(cmd.k, 'cmd');
    await up({
      v: 1,
      k: 'cmd-result',
      gw: 'site-e',
      seq: ++seq,
      ts: Date.now(),
      id: record.id,
      dev: 'm-1',
      ok: true,
    });
    await waitFor(
      'executed in the cloud',
      async () => (await cloudApp.store.getCommand(record.id))?.state === 'executed',
    );
  });
});
