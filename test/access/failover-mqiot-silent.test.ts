import assert from 'node:assert/strict';
import { test } from 'node:test';
import { report, runScenario, type Fault } from './scenario.ts';

// mqiot + mqiot, Broker1 cut off silently (a frozen TCP relay; keep-alive 2 s).
const cases: [Fault, 'mosquitto' | 'mqiot', 4 | 5][] = [['silent', 'mqiot', 5]];

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
      assert.ok(r.causes.includes('keepalive-timeout'), r.causes.join());
    },
  );
}
