// Envelopes written by other CBOR encoders (test/fixtures/cbor-vectors), published over real MQTT by
// gateways at an edge bridged to a cloud platform: both platforms register the devices and store the
// readings; the refused vectors are acknowledged and dropped without disturbing anything else.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { PlatformApp } from '../../src/app/platform-app.ts';
import { decodeEnvelope, type Envelope } from '../../src/protocol/envelope.ts';
import { accepted, refused, vectorBytes } from '../fixtures/cbor-vectors/vectors.ts';
import { startEdgeAndCloud, type EdgeAndCloud } from '../support/live.ts';
import { connectGateway } from '../support/mqtt.ts';
import { waitFor } from '../support/wait.ts';

/** Readings (points) each device's frames in the accepted vectors decode to. */
const POINTS: Record<string, number> = { 'py-meter': 1, 'go-pm': 4, 'c-meter': 2, 'mcu-pm': 2 };

describe('CBOR from other encoders, over MQTT to an edge and a cloud platform', () => {
  let dir: string;
  let site: EdgeAndCloud;
  const gateways = new Map<string, MqttClient>();
  const down: Envelope[] = [];

  const gateway = async (gw: string): Promise<MqttClient> => {
    let client = gateways.get(gw);
    if (!client) {
      client = await connectGateway(site.edge.mqttUrl, gw, { protocolVersion: 5 });
      client.on('message', (_topic, payload) => down.push(decodeEnvelope(payload)));
      gateways.set(gw, client);
    }
    return client;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-cbor-'));
    site = await startEdgeAndCloud(dir, { clientId: 'mqiot-platform-cbor' }, 'mqiot-edge-cbor');
  });

  after(async () => {
    for (const client of gateways.values()) await client.endAsync();
    await site?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('acknowledges and drops each refused vector; the broker and platform carry on', async () => {
    const client = await gateway('bad-gw');
    for (const vector of refused) {
      const ack = await client.publishAsync('mqiot/gw/bad-gw/up', vectorBytes(vector.hex), { qos: 1 });
      // Refused for good (a resend cannot help), so acknowledged with success and not stored.
      assert.equal((ack as { reasonCode?: number } | undefined)?.reasonCode ?? 0, 0, vector.name);
    }
    const counted = /^mqiot_platform_uplinks_rejected_total\{reason="invalid-envelope"\} (\d+)$/m.exec(
      await site.edge.app.platform.metrics.render(),
    );
    assert.equal(Number(counted?.[1]), refused.length, 'each counted as an invalid envelope');
    assert.equal(await site.edge.app.store.countPoints('bad-meter'), 0);
    assert.equal(await site.edge.app.store.getDevice('bad-meter'), undefined);
  });

  it('registers every gateway and device and stores every reading, at the edge and in the cloud', async () => {
    for (const vector of accepted) {
      const gw = vector.expected.gw;
      await (await gateway(gw)).publishAsync(`mqiot/gw/${gw}/up`, vectorBytes(vector.hex), { qos: 1 });
    }
    for (const app of [site.edge.app, site.cloudApp] as PlatformApp[]) {
      for (const [dev, points] of Object.entries(POINTS))
        await waitFor(
          `${points} readings of ${dev}`,
          async () => (await app.store.countPoints(dev)) === points,
        );
      for (const vector of accepted.filter((v) => v.expected.k === 'birth')) {
        if (vector.expected.k !== 'birth') continue;
        const device = vector.expected.devices[0]!;
        assert.equal((await app.store.getDevice(device.dev))?.contractId, device.c, vector.name);
        assert.equal((await app.store.getGateway(vector.expected.gw))?.online, true, vector.name);
      }
    }
    const meter = await site.edge.app.store.latest('py-meter');
    assert.deepEqual(
      meter.map((p) => [p.name, p.value, p.ts]),
      [['energy_active_forward_total', 0.26, 1763758799840]],
    );
    const pm = await site.edge.app.store.latest('mcu-pm');
    assert.deepEqual(
      pm.map((p) => [p.name, p.value]),
      [
        ['holding.3', 5],
        ['holding.4', 6],
      ],
    );
    // The report with half, single and double floats and negative integers, stored as sent.
    const [report] = await waitFor('the report', async () => {
      const reports = await site.edge.app.store.listReports('mcu-gw');
      return reports.length > 0 && reports;
    });
    assert.deepEqual(report?.body, {
      uptimeMs: 60000,
      load: 0.5,
      tempC: 25,
      rssi: -65,
      driftPpm: -500,
      offsetMs: -100,
    });
    // Each birth is answered with a heartbeat, which these gateways decode.
    await waitFor('heartbeats for the four gateways', () =>
      ['py-gw', 'go-gw', 'c-gw', 'mcu-gw'].every((gw) =>
        down.some((e) => e.k === 'heartbeat' && e.gw === gw),
      ),
    );
  });
});
