// A gateway stopping while its broker has gone silent: the goodbye's PUBACK never comes, and the stop
// still ends within its timeout with the connection closed (no socket left to keep the process alive).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BrokerLink } from '../../src/gateway/broker-link.ts';
import { TcpBroker } from '../support/broker.ts';
import { Relay } from '../support/relay.ts';
import { waitFor } from '../support/wait.ts';

test('BrokerLink.stop: a broker gone silent gets its connection dropped after the timeout', async (t) => {
  const broker = await TcpBroker.start();
  t.after(() => broker.close());
  const relay = new Relay(broker.port);
  await relay.start();
  t.after(() => relay.close());
  let connected = false;
  const link = new BrokerLink(
    {
      urls: [`mqtt://127.0.0.1:${relay.port}`],
      clientId: 'gw-stop',
      protocolVersion: 5,
      keepalive: 60,
      reconnectMs: 100,
      sessionExpiry: 0,
      qos: 1,
      tls: { rejectUnauthorized: true },
    },
    'mqiot/gw/stop/down',
    'mqiot/gw/stop/up',
    {
      onConnect: () => (connected = true),
      onClose: () => undefined,
      onMessage: () => undefined,
      onError: () => undefined,
    },
  );
  link.start(Buffer.from('will'));
  await waitFor('connected', () => connected);
  relay.freeze();
  const started = Date.now();
  await link.stop(Buffer.from('goodbye'), 300);
  assert.ok(Date.now() - started < 5000, `stopped in ${Date.now() - started} ms`);
  await waitFor('the connection closed', () => relay.openConnections === 0, 5000);
});
