// End to end: device simulators → gateway → broker (in process) → contracts stage → platform → HTTP API.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { Gateway, parseGatewayConfig, type GatewayConfig } from '../../src/gateway/index.ts';
import type { AllInOne } from '../../src/app/all-in-one.ts';
import { decodeEnvelope } from '../../src/protocol/envelope.ts';
import { startSimulators, type Simulators } from '../../src/sim/index.ts';
import type { Json } from './helpers.ts';
import { startEdge } from '../support/live.ts';
import { quietPeriod, waitFor } from '../support/wait.ts';
import { bearer, testToken } from '../support/auth.ts';

describe('end to end: simulators → gateway → broker → platform → API', () => {
  let system: AllInOne;
  let sims: Simulators;
  let gateway: Gateway;
  let gatewayConfig: GatewayConfig;
  let spy: MqttClient;
  let dir: string;
  let token = '';
  let mute: net.Server;
  const muteSockets = new Set<net.Socket>();
  const downlinks: { k: string; id?: string }[] = [];
  const api = async (path: string, init?: { method: string; body: unknown }) => {
    const res = await fetch(`${system.httpUrl}${path}`, {
      method: init?.method ?? 'GET',
      headers: { ...bearer(token), ...(init ? { 'content-type': 'application/json' } : {}) },
      body: init ? JSON.stringify(init.body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as Json };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-e2e-'));
    system = await startEdge(dir, {
      commandTimeoutMs: 1000,
      queryTimeoutMs: 30_000,
      tickMs: 100,
      heartbeatIntervalMs: 1000,
    });
    token = await testToken(system.app.store, 'admin');
    // A device that never answers: its link accepts the connection and stays silent.
    mute = net.createServer((socket) => {
      muteSockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    sims = await startSimulators({
      modbusTcp: { host: '127.0.0.1', port: 0, units: [1, 2] },
      dlt645: { transport: 'tcp', host: '127.0.0.1', port: 0, addresses: ['000000000161'] },
    });
    gatewayConfig = parseGatewayConfig({
      gateway: { id: 'e2e-site' },
      mqtt: { urls: [system.mqttUrl], reconnectMs: 100 },
      batching: { windowMs: 200 },
      heartbeat: { validIntervalMs: 5000 },
      reports: { intervalMs: 500, ackTimeoutMs: 2000 },
      queue: { path: join(dir, 'gw-queue.db') },
      devices: [
        ...[1, 2].map((unit) => ({
          id: `pm-${unit}`,
          contract: 'modbus-tcp',
          transport: { type: 'tcp', host: '127.0.0.1', port: sims.modbusTcp!.port },
          params: { unit },
          poll: [
            {
              name: 'meter',
              message: 'read-holding-registers',
              params: { start: 0, count: 11 },
              everyMs: 300,
            },
          ],
        })),
        {
          id: 'meter-161',
          contract: 'dlt645-2007',
          transport: { type: 'tcp', host: '127.0.0.1', port: sims.dlt645!.port },
          params: { address: '000000000161' },
          poll: [{ name: 'voltage', message: 'read', params: { di: '02010100' }, everyMs: 300 }],
        },
        {
          id: 'mute-1',
          contract: 'modbus-tcp',
          transport: { type: 'tcp', host: '127.0.0.1', port: (mute.address() as net.AddressInfo).port },
          params: { unit: 1 },
          // The gateway waits far longer than the platform's three tries before giving up on it.
          commandTimeoutMs: 60_000,
          commandRetries: 0,
        },
      ],
    });
    spy = await mqtt.connectAsync(system.mqttUrl, { clientId: 'e2e-spy', reconnectPeriod: 0 });
    await spy.subscribeAsync('mqiot/gw/e2e-site/down', { qos: 1 });
    spy.on('message', (_t, payload) => downlinks.push(decodeEnvelope(payload) as { k: string; id?: string }));
    gateway = new Gateway(gatewayConfig);
    await gateway.start();
  });

  after(async () => {
    await spy?.endAsync();
    await gateway?.stop({ graceful: false }).catch(() => undefined);
    await sims?.close();
    for (const socket of muteSockets) socket.destroy();
    await new Promise((resolve) => mute?.close(resolve));
    await system?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('devices are registered automatically with the right contract', async () => {
    const devices = await waitFor('3 devices', async () => {
      const r = await api('/api/devices?gateway=e2e-site');
      return r.body.total === 4 ? r.body.items : undefined;
    });
    assert.deepEqual(
      devices.map((d: { id: string; contractId: string }) => [d.id, d.contractId]),
      [
        ['meter-161', 'dlt645-2007'],
        ['mute-1', 'modbus-tcp'],
        ['pm-1', 'modbus-tcp'],
        ['pm-2', 'modbus-tcp'],
      ],
    );
  });

  it('readings are stored with the right values and units', async () => {
    const latest = await waitFor('meter voltage', async () => {
      const r = await api('/api/devices/meter-161/latest');
      return r.body.items.length ? r.body.items : undefined;
    });
    assert.equal(latest[0].name, 'voltage_a');
    assert.equal(latest[0].unit, 'V');
    const simVolts = sims.dlt645!.meters[0]!.model.read().voltage[0];
    assert.ok(
      Math.abs(latest[0].value - simVolts) < 5,
      `stored ${latest[0].value} V, simulator ${simVolts} V`,
    );
    const pm = await waitFor('modbus registers', async () => {
      const r = await api('/api/devices/pm-1/latest');
      return r.body.items.length ? r.body.items : undefined;
    });
    // identified as the simulated power meter (src/contracts/models): register 8 is its relay
    const relay = pm.find((p: { name: string }) => p.name === 'relay');
    assert.equal(relay?.value, true, `relay reads on: ${JSON.stringify(pm)}`);
  });

  it('periodic report: the gateway reports, the platform stores each report once and acknowledges it', async () => {
    const reports = await waitFor('two reports stored', async () => {
      const r = await api('/api/gateways/e2e-site');
      return r.body.reports.length >= 2 ? r.body.reports : undefined;
    });
    const seqs = reports.map((r: { seq: number }) => r.seq);
    assert.equal(new Set(seqs).size, seqs.length, 'each report once');
    await waitFor('reports acknowledged', () => gateway.stats.reportsAcked >= 2);
  });

  it('a command is executed by the device with feedback', async () => {
    const sent = await api('/api/devices/pm-1/commands', {
      method: 'POST',
      body: { action: 'write-single-register', params: { address: 8, value: 0 } },
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const done = await waitFor('command settled', async () => {
      const r = await api(`/api/commands/${sent.body.id}`);
      return ['executed', 'failed'].includes(r.body.state) ? r.body : undefined;
    });
    assert.equal(done.state, 'executed', JSON.stringify(done));
    assert.equal(
      sims.modbusTcp!.units.get(1)!.readRegisters(8, 1, false)?.[0],
      0,
      'relay off in the simulator',
    );
  });

  it('control command: a command to a device that never answers ends failed after exactly 3 tries', async () => {
    const sent = await api('/api/devices/mute-1/commands', {
      method: 'POST',
      body: { action: 'write-single-register', params: { address: 8, value: 0 } },
    });
    assert.equal(sent.status, 202);
    const failed = await waitFor('failed', async () => {
      const r = await api(`/api/commands/${sent.body.id}`);
      return r.body.state === 'failed' ? r.body : undefined;
    });
    assert.equal(failed.attempts, 3);
    assert.equal(failed.error, 'no answer after 3 attempts');
    assert.equal(downlinks.filter((d) => d.k === 'cmd' && d.id === sent.body.id).length, 3);
  });

  it('status query: answered within its 30 s window', async () => {
    const sent = await api('/api/gateways/e2e-site/queries', { method: 'POST', body: { devices: ['pm-2'] } });
    assert.equal(sent.status, 202);
    const done = await waitFor('query answered', async () => {
      const r = await api(`/api/commands/${sent.body.id}`);
      return r.body.state !== 'sent' ? r.body : undefined;
    });
    assert.equal(done.state, 'executed');
    assert.ok(done.updatedAt - done.createdAt < 30_000);
    assert.equal(done.attempts, 1);
    assert.ok(done.result.gateway, 'gateway status data');
  });

  it('online/offline changes are recorded when the gateway stops and starts', async () => {
    await gateway.stop();
    const offline = await waitFor('gateway offline', async () => {
      const r = await api('/api/gateways/e2e-site');
      return r.body.gateway.online === false ? r.body.gateway : undefined;
    });
    assert.ok(offline.onlineChangedAt > 0);
    const devicesOffline = await api('/api/devices?gateway=e2e-site&online=false');
    assert.equal(devicesOffline.body.total, 4, 'its devices go offline with it (mute-1 never came online)');

    // control command: nobody answers while the gateway is away → sent 3 times, then failed.
    const lost = await api('/api/devices/pm-2/commands', {
      method: 'POST',
      body: { action: 'write-single-register', params: { address: 8, value: 0 } },
    });
    const failed = await waitFor('command failed', async () => {
      const r = await api(`/api/commands/${lost.body.id}`);
      return r.body.state === 'failed' ? r.body : undefined;
    });
    assert.equal(failed.attempts, 3);
    assert.equal(
      downlinks.filter((d) => d.k === 'cmd' && d.id === lost.body.id).length,
      3,
      'exactly 3 tries',
    );
    assert.deepEqual(
      failed.history.map((h: { state: string }) => h.state),
      ['pending', 'sent', 'timed-out', 'sent', 'timed-out', 'sent', 'timed-out', 'failed'],
    );

    gateway = new Gateway(gatewayConfig);
    await gateway.start();
    await waitFor(
      'gateway online again',
      async () => (await api('/api/gateways/e2e-site')).body.gateway.online === true,
    );
    // The copies of the failed command kept in the gateway's session expired: it is not executed late.
    // Barrier: the gateway is online again, so it has its session (a stale copy would have come with
    // it, right after the CONNACK, before the heartbeat); the window covers the Modbus write it would start.
    await quietPeriod(1000);
    assert.equal(sims.modbusTcp!.units.get(2)!.readRegisters(8, 1, false)?.[0], 1, 'pm-2 relay untouched');
    const events = await api('/api/events?subjectType=gateway&subject=e2e-site');
    const changes = events.body.items
      .map((e: { kind: string }) => e.kind)
      .filter((k: string) => k === 'online' || k === 'offline');
    assert.deepEqual(changes.slice(0, 3), ['online', 'offline', 'online'], 'newest first');
  });
});
