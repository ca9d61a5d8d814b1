// End to end with Debian's Mosquitto: the gateway works with any conformant broker.
import { test } from 'node:test';

import { gatewayScenario } from './scenario.ts';
import { startMosquitto } from '../support/broker.ts';

test('gateway e2e (Mosquitto): data groups, commands once, queries, reports acked and resent', async (t) => {
  await gatewayScenario(t, await startMosquitto());
});
