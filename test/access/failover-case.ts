// One failover scenario as a test: the proxy in front of Broker1 and Broker2 while publishers run,
// Broker1 fails (`fault`) and comes back. Every case must lose no acknowledged message, fail over and
// back exactly once per upstream link, and end on Broker1; `cause` says how the failure was noticed.
// The cases are tables in failover-*.test.ts (separate files so that they run in parallel).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BrokerKind } from '../support/process-broker.ts';
import { report, runScenario, type Fault } from './scenario.ts';

export interface FailoverCase {
  broker1: BrokerKind;
  broker2: BrokerKind;
  fault: Fault;
  protocolVersion: 4 | 5;
  /** How the proxy must have noticed Broker1's failure (one of the recorded causes matches). */
  cause?: RegExp;
}

export function failoverTest(c: FailoverCase): void {
  const version = c.protocolVersion === 5 ? '5' : '3.1.1';
  test(
    `${c.broker1} + ${c.broker2}: Broker1 ${c.fault} (MQTT ${version}): no acknowledged message lost, failback`,
    { timeout: 60_000 },
    async () => {
      const r = await runScenario(c);
      report(`${c.broker1}/${c.broker2} ${c.fault}`, r);
      for (const p of r.publishers) {
        assert.ok(p.acked > 20, `qos${p.qos} publisher got acks`);
        assert.equal(p.lost, 0, `qos${p.qos}: acknowledged messages lost`);
      }
      assert.equal(r.failovers, 2);
      assert.equal(r.failbacks, 2);
      assert.equal(r.activeAtEnd, '0,0');
      if (c.cause)
        assert.ok(
          r.causes.some((x) => c.cause!.test(x)),
          r.causes.join(),
        );
    },
  );
}
