// End to end with Debian's Mosquitto: the gateway works with any conformant broker.
import { test } from 'node:test';
import { startMosquitto } from './helpers.ts';
import { gatewayScenario } from './scenario.ts';

test('gateway e2e (Mosquitto): data groups, commands once, queries, reports acked and resent', async (t) => {
  await gatewayScenario(t, await startMosquitto());
});
