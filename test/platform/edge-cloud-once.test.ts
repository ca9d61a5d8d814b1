// Real processes: `mqiot cloud` (own broker), `mqiot edge` bridged to it with the replica sync, and
// `mqiot gateway` polling a simulated Modbus power meter. A linkage rule made at the cloud trips the
// meter's relay (a write to register 8, counted at the simulator) when holding.11 > 100. Across a cloud
// outage — with the edge restarted in the middle of it — the edge still fires the rule, and every
// firing trips the relay once: the cloud, seeing the queued readings afterwards, does not act again.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startSimulators, type Simulators } from '../../src/sim/index.ts';
import { logLines, runCli, type RunningCli } from '../support/cli.ts';
import { freePort } from '../support/ports.ts';
import { makeTempDir } from '../support/temp.ts';
import { PROCESS_START_MS, waitFor } from '../support/wait.ts';

const PASSWORD = 'edge-cloud-test-pw-1';
const ENV = {
  MQIOT_ADMIN_PASSWORD: PASSWORD,
  MQIOT_BROKER_WS_PORT: 'off',
  MQIOT_BROKER_METRICS_PORT: 'off',
};
const RULE = {
  id: 'trip-high',
  when: { device: 'pm-1', point: 'holding.11', op: '>', value: 100 },
  then: [
    { type: 'command', device: 'pm-1', action: 'write-single-register', params: { address: 8, value: 0 } },
  ],
};
const FLOW_MS = 60_000;

async function started(cli: RunningCli, message: string): Promise<Record<string, unknown>> {
  let line: Record<string, unknown> | undefined;
  await waitFor(
    () => `"${message}": ${cli.stderr()}${cli.stdout().slice(-3000)}`,
    () =>
      (line = logLines(cli.stdout()).find((l) => l.msg === message)) !== undefined ||
      cli.child.exitCode !== null,
    PROCESS_START_MS,
  );
  if (!line) throw new Error(`exited early: ${cli.stderr()}${cli.stdout()}`);
  return line;
}

async function login(url: string): Promise<string> {
  const res = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: PASSWORD }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { token: string }).token;
}

describe('rules fire once across edge and cloud (real processes)', () => {
  const tmp = makeTempDir('mqiot-edge-once-');
  let sims: Simulators;
  let cloud: RunningCli | undefined;
  let edge: RunningCli | undefined;
  let gateway: RunningCli | undefined;
  let cloudHttp: number;
  let cloudMqtt: number;
  let edgeMqtt: number;
  let edgeHttp: number;
  let cloudToken = '';
  let edgeToken = '';
  const trips: number[] = [];

  const cloudUrl = () => `http://127.0.0.1:${cloudHttp}`;
  const edgeUrl = () => `http://127.0.0.1:${edgeHttp}`;
  const get = async (base: string, token: string, path: string) => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, unknown> & { items?: Record<string, unknown>[] };
  };
  const latest = async (base: string, token: string) => {
    const res = await fetch(`${base}/api/devices/pm-1/latest`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (!res.ok) return undefined;
    const body = (await res.json()) as
      { items?: { name: string; value: unknown }[] } | { name: string; value: unknown }[];
    const items = Array.isArray(body) ? body : (body.items ?? []);
    return items.find((p) => p.name === 'holding.11')?.value;
  };
  const history = async (base: string, token: string) =>
    (await get(base, token, '/api/rules/trip-high/history')).items ?? [];

  const startCloud = async () => {
    cloud = runCli(
      [
        'cloud',
        '--allow-anonymous',
        '--data-dir',
        join(tmp.dir, 'cloud'),
        '--port',
        String(cloudMqtt),
        '--http-host',
        '127.0.0.1',
        '--http-port',
        String(cloudHttp),
        '--metrics-port',
        'off',
        '--command-timeout-ms',
        '3000',
      ],
      { ...ENV, MQIOT_BROKER_HOST: '127.0.0.1' },
    );
    await started(cloud, 'mqiot cloud: running');
  };
  const startEdge = async () => {
    edge = runCli(
      [
        'edge',
        '--allow-anonymous',
        '--cloud',
        `mqtt://127.0.0.1:${cloudMqtt}`,
        '--cloud-api',
        cloudUrl(),
        '--edge-id',
        'site-one',
        '--data-dir',
        join(tmp.dir, 'edge'),
        '--host',
        '127.0.0.1',
        '--port',
        String(edgeMqtt),
        '--http-port',
        String(edgeHttp),
        '--sync-ms',
        '500',
      ],
      { ...ENV, MQIOT_CLOUD_API_TOKEN: cloudToken },
    );
    await started(edge, 'mqiot edge: running');
  };
  const setValue = (v: number) => sims.modbusTcp!.units.get(1)!.writeRegisters(11, [v]);

  before(async () => {
    [cloudHttp, cloudMqtt, edgeMqtt, edgeHttp] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    sims = await startSimulators({ modbusTcp: { host: '127.0.0.1', port: 0, units: [1] } });
    // count the relay writes the meter receives
    const unit = sims.modbusTcp!.units.get(1)!;
    const write = unit.writeRegisters.bind(unit);
    unit.writeRegisters = (start, values) => {
      if (start === 8) trips.push(Date.now());
      return write(start, values);
    };
    setValue(50);
    await startCloud();
    cloudToken = await login(cloudUrl());
    await startEdge();
    edgeToken = await login(edgeUrl());
    const config = join(tmp.dir, 'gw.json');
    writeFileSync(
      config,
      JSON.stringify({
        gateway: { id: 'site-p' },
        mqtt: { urls: [`mqtt://127.0.0.1:${edgeMqtt}`], reconnectMs: 200 },
        batching: { windowMs: 100 },
        queue: { path: join(tmp.dir, 'gw-queue.db') },
        devices: [
          {
            id: 'pm-1',
            contract: 'modbus-tcp',
            transport: { type: 'tcp', host: '127.0.0.1', port: sims.modbusTcp!.port },
            params: { unit: 1 },
            poll: [{ message: 'read-holding-registers', params: { start: 11, count: 1 }, everyMs: 300 }],
          },
        ],
      }),
    );
    gateway = runCli(['gateway', '--config', config], ENV);
  });

  after(async () => {
    await gateway?.kill();
    await edge?.kill();
    await cloud?.kill();
    await sims?.close();
    tmp.cleanup();
  });

  it('link up: the cloud acts, the edge stands by: one trip', async () => {
    await waitFor('pm-1 at the cloud', async () => (await latest(cloudUrl(), cloudToken)) === 50, FLOW_MS);
    const res = await fetch(`${cloudUrl()}/api/rules`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${cloudToken}` },
      body: JSON.stringify(RULE),
    });
    assert.equal(res.status, 201, await res.text());
    await waitFor(
      'the rule in the edge replica',
      async () =>
        ((await get(edgeUrl(), edgeToken, '/api/rules')).items ?? []).some((r) => r.id === 'trip-high'),
      FLOW_MS,
    );
    setValue(250);
    await waitFor('one trip', () => trips.length === 1, FLOW_MS);
    await waitFor(
      'the cloud recorded it',
      async () => (await history(cloudUrl(), cloudToken)).length === 1,
      FLOW_MS,
    );
    setValue(50); // re-arms the rule on both sides
    await waitFor('50 at the cloud', async () => (await latest(cloudUrl(), cloudToken)) === 50, FLOW_MS);
    await waitFor('50 at the edge', async () => (await latest(edgeUrl(), edgeToken)) === 50, FLOW_MS);
    assert.equal((await history(edgeUrl(), edgeToken)).length, 0, 'the edge stood by');
    assert.equal(trips.length, 1);
  });

  it('cloud down, edge restarted mid-outage: the edge fires from its replica; the cloud does not fire again', async () => {
    await cloud!.kill();
    // the edge restarted during the outage starts from what it has on disk
    const stopping = edge!.stop();
    await waitFor(
      () => `the edge to stop: ${edge!.stdout().slice(-2000)}`,
      () => edge!.child.exitCode !== null || edge!.child.signalCode !== null,
      PROCESS_START_MS,
    );
    await stopping;
    await startEdge();
    edgeToken = await login(edgeUrl());
    assert.match(edge!.stdout(), /edge sync failed/, 'the cloud API is really unreachable');
    setValue(300);
    await waitFor('the edge trips the relay', () => trips.length === 2, FLOW_MS);
    await waitFor(
      'the edge recorded the firing',
      async () => (await history(edgeUrl(), edgeToken)).length === 1,
      FLOW_MS,
    );

    await startCloud();
    cloudToken = await login(cloudUrl());
    // The cloud gets the queued readings (300 among them) and the edge's firing report.
    await waitFor(
      "the edge's firing reported to the cloud",
      async () =>
        (await history(cloudUrl(), cloudToken)).some(
          (e) => (e.detail as { by?: string }).by === 'edge:site-one',
        ),
      FLOW_MS,
    );
    await waitFor('300 at the cloud', async () => (await latest(cloudUrl(), cloudToken)) === 300, FLOW_MS);
    // The cloud evaluated the replayed reading (its rule state for pm-1 is `fired`) but did not act.
    await waitFor(
      'the cloud rule evaluated the queued reading',
      async () =>
        ((await get(cloudUrl(), cloudToken, '/api/rules/trip-high')).status as Record<string, string>)[
          'pm-1'
        ] === 'fired',
      FLOW_MS,
    );
    // Barrier: a later reading has gone through the cloud's rules too, so a command of its own would
    // have been sent and executed by now (the gateway answers within its poll cycle).
    setValue(60);
    await waitFor('60 at the cloud', async () => (await latest(cloudUrl(), cloudToken)) === 60, FLOW_MS);
    const commands = (await get(cloudUrl(), cloudToken, '/api/commands?device=pm-1')).items ?? [];
    assert.equal(commands.length, 1, `the cloud sent only its first command: ${JSON.stringify(commands)}`);
    assert.equal(trips.length, 2, 'one trip per firing');
    const cloudHistory = await history(cloudUrl(), cloudToken);
    assert.equal(cloudHistory.length, 2, 'its own firing and the one the edge reported');
  });
});
