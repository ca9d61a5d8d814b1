// The end-to-end suite every broker must pass: simulators → gateway → broker → fake platform.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { builtinContract } from '../../src/contracts/index.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { parseGatewayConfig } from '../../src/gateway/config.ts';
import { startSimulators } from '../../src/sim/index.ts';
import { FakePlatform } from './helpers.ts';
import { type RestartableBroker } from '../support/broker.ts';
import { makeTempDir } from '../support/temp.ts';
import { waitFor } from '../support/wait.ts';

export async function gatewayScenario(t: TestContext, broker: RestartableBroker): Promise<void> {
  const sims = await startSimulators({ modbusTcp: { units: [1, 2] } });
  const tmp = makeTempDir();
  const platform = new FakePlatform(broker.url, 'gw-e2e', { heartbeatMs: 500 });
  await platform.start();
  const config = parseGatewayConfig({
    gateway: { id: 'gw-e2e' },
    mqtt: { urls: [broker.url], reconnectMs: 100 },
    batching: { windowMs: 300 },
    heartbeat: { validIntervalMs: 2000 },
    reports: { intervalMs: 400, ackTimeoutMs: 300 },
    queue: { path: `${tmp.dir}/q.db` },
    devices: [1, 2].map((unit) => ({
      id: `pm-${unit}`,
      contract: 'modbus-tcp',
      transport: { type: 'tcp', host: '127.0.0.1', port: sims.modbusTcp!.port },
      params: { unit },
      poll: [
        { name: 'meter', message: 'read-holding-registers', params: { start: 0, count: 11 }, everyMs: 200 },
      ],
    })),
  });
  const gw = new Gateway(config);
  await gw.start();
  t.after(async () => {
    await gw.stop();
    await platform.stop();
    await sims.close();
    await broker.stop();
    tmp.cleanup();
  });

  await t.test('birth lists the devices; data groups hold frames of several devices', async () => {
    const birth = await waitFor('birth', () => platform.of('birth')[0]);
    assert.deepEqual(
      birth.devices.map((d) => [d.dev, d.c]),
      [
        ['pm-1', 'modbus-tcp'],
        ['pm-2', 'modbus-tcp'],
      ],
    );
    const group = await waitFor('a data group with both devices', () =>
      platform.of('data').find((d) => new Set(d.frames.map((f) => f.dev)).size === 2),
    );
    const frame = group.frames[0]!;
    const decoded = builtinContract('modbus-tcp').decode(frame.raw, frame.ctx);
    assert.ok(decoded.ok, 'raw frame decodes with the contract');
    const volts = decoded.points.find((p) => p.name === 'holding.0')!.value as number;
    assert.ok(volts > 2000 && volts < 2600, `voltage register ${volts}`);
    const seqs = platform.of('data').map((d) => d.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      'uplink seq increases',
    );
  });

  await t.test(
    '[protocol: control command] a command executes once; its resend is answered from the cache',
    async () => {
      const unit = sims.modbusTcp!.units.get(1)!;
      const cmd = {
        v: 1 as const,
        k: 'cmd' as const,
        gw: 'gw-e2e',
        ts: Date.now(),
        id: 'cmd-relay-off',
        dev: 'pm-1',
        action: 'write-single-register',
        params: { address: 8, value: 0 },
      };
      platform.send(cmd);
      const first = await waitFor('cmd-result', () => platform.of('cmd-result').find((r) => r.id === cmd.id));
      assert.equal(first.ok, true, String(first.error));
      assert.equal(first.cached, undefined);
      assert.equal((unit.readRegisters(8, 1, false) ?? [])[0], 0, 'relay switched off in the simulator');
      unit.writeRegisters(8, [1]); // switch back by hand: a second execution would switch it off again
      platform.send(cmd);
      const again = await waitFor('cached cmd-result', () =>
        platform.of('cmd-result').find((r) => r.id === cmd.id && r.cached),
      );
      assert.equal(again.ok, true);
      assert.ok(again.seq > first.seq);
      assert.equal((unit.readRegisters(8, 1, false) ?? [])[0], 1, 'not executed a second time');
    },
  );

  await t.test('a command the device refuses reports ok=false with the reason', async () => {
    platform.send({
      v: 1,
      k: 'cmd',
      gw: 'gw-e2e',
      ts: Date.now(),
      id: 'cmd-bad-address',
      dev: 'pm-2',
      action: 'write-single-register',
      params: { address: 500, value: 1 },
    });
    const r = await waitFor('cmd-result', () =>
      platform.of('cmd-result').find((m) => m.id === 'cmd-bad-address'),
    );
    assert.equal(r.ok, false);
    assert.match(r.error!, /illegal-data-address|exception/);
  });

  await t.test('[protocol: status query] queries answer with gateway and device state', async () => {
    platform.send({ v: 1, k: 'query', gw: 'gw-e2e', ts: Date.now(), id: 'q-1' });
    platform.send({ v: 1, k: 'query', gw: 'gw-e2e', ts: Date.now(), id: 'q-2', devs: ['pm-1', 'nope'] });
    const q1 = await waitFor('status q-1', () => platform.of('status').find((s) => s.id === 'q-1'));
    assert.equal(q1.complete, true);
    const gwState = q1.status.gateway as { online: boolean; queueDepth: number };
    assert.equal(gwState.online, true);
    assert.equal((q1.status.devices as unknown[]).length, 2);
    const q2 = await waitFor('status q-2', () => platform.of('status').find((s) => s.id === 'q-2'));
    assert.equal(q2.complete, false);
    assert.match(q2.error!, /nope: unknown device/);
  });

  await t.test(
    '[protocol: periodic report] reports are acknowledged; an unacknowledged one is resent',
    async () => {
      await waitFor('an acknowledged report', () => gw.stats.reportsAcked >= 1);
      platform.ackReports = false;
      const before = platform.of('report').length;
      const resent = await waitFor(
        'a report seen twice',
        () => {
          const recent = platform.of('report').slice(before);
          return recent.find((r, i) => recent.findIndex((o) => o.seq === r.seq) !== i);
        },
        10_000,
      );
      assert.ok(resent, 'same seq published again');
      platform.ackReports = true;
      const acked = gw.stats.reportsAcked;
      await waitFor('acks resume', () => gw.stats.reportsAcked > acked);
    },
  );

  await t.test('will: a gateway that vanishes is marked offline by its will, tied to its birth', async () => {
    await gw.stop({ graceful: false }); // no DISCONNECT: the broker publishes the will
    const will = await waitFor('will', () => platform.of('will')[0]);
    const births = platform.of('birth');
    assert.equal(will.reason, 'connection lost');
    assert.equal(will.seq, births.at(-1)!.seq, 'the will names the birth of its connection');
    assert.equal(will.epoch, births.at(-1)!.epoch);
  });
}
