import assert from 'node:assert/strict';
import { test } from 'node:test';
import { report, runScenario, type Fault } from './scenario.ts';

// mqiot's broker as Broker1 (killed, stopped) with Mosquitto or mqiot as Broker2; the silent case
// is in failover-mqiot-silent.test.ts (files stay short; they run in parallel).
const cases: [Fault, 'mosquitto' | 'mqiot', 4 | 5][] = [
  ['kill', 'mosquitto', 4],
  ['stop', 'mqiot', 5],
];

for (const [fault, broker2, pv] of cases) {
  test(
    `mqiot + ${broker2}: Broker1 ${fault} (MQTT ${pv === 5 ? '5' : '3.1.1'}): no acknowledged message lost, failback`,
    { timeout: 60_000 },
    async () => {
      const r = await runScenario({ broker1: 'mqiot', broker2, fault, protocolVersion: pv });
      report(`mqiot/${broker2} ${fault}`, r);
      for (const p of r.publishers) {
        assert.ok(p.acked > 20, `qos${p.qos} publisher got acks`);
        assert.equal(p.lost, 0, `qos${p.qos}: acknowledged messages lost`);
      }
      assert.equal(r.failovers, 2);
      assert.equal(r.failbacks, 2);
      assert.equal(r.activeAtEnd, '0,0');
      // mqiot's broker says goodbye with DISCONNECT 0x8B on a graceful stop: noticed before the close.
      if (fault === 'stop') assert.ok(r.causes.includes('server-disconnect:0x8b'), r.causes.join());
    },
  );
}
