// End to end with our broker (src/broker) in-process on a loopback listener.
import { test } from 'node:test';

import { gatewayScenario } from './scenario.ts';
import { startOurBroker } from '../support/broker.ts';

test('gateway e2e (mqiot broker): data groups, commands once, queries, reports acked and resent', async (t) => {
  await gatewayScenario(t, await startOurBroker());
});
