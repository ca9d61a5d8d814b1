// endClient: an MQTT.js client with a QoS 1 message in flight is ended within its grace period, whether
// the broker never acknowledges or the connection is already down (a plain graceful end waits forever).
import assert from 'node:assert/strict';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import mqtt from 'mqtt';
import { endClient } from '../../src/protocol/mqtt-end.ts';
import { waitFor } from '../support/wait.ts';

/**
 * A broker that accepts the connection (CONNACK) and then ignores everything: no PUBACK ever. `frozen`:
 * it stops reading too, so it never sees the client's DISCONNECT or its end of the connection.
 */
async function silentBroker(
  t: TestContext,
  frozen = false,
): Promise<{ url: string; sockets: Set<net.Socket>; server: net.Server }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', () => {
      socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00]));
      if (frozen) socket.pause();
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { url: `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`, sockets, server };
}

test('endClient: a connected client whose PUBACK never comes is ended after the grace period', async (t) => {
  const broker = await silentBroker(t);
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 100 });
  client.publish('t', 'x', { qos: 1 });
  await waitFor('the message in flight', () => Object.keys(client.outgoing).length === 1);
  const started = Date.now();
  await endClient(client, 200);
  assert.ok(Date.now() - started >= 150, 'waited for the acknowledgement first');
  assert.equal(client.connected, false);
  await waitFor('the connection closed at the broker', () => broker.sockets.size === 0);
});

test('endClient: a client whose connection is down with a message in flight is ended at once', async (t) => {
  const broker = await silentBroker(t);
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 60_000 });
  client.publish('t', 'x', { qos: 1 });
  await waitFor('the message in flight', () => Object.keys(client.outgoing).length === 1);
  for (const s of broker.sockets) s.destroy();
  await waitFor('the client saw the connection go', () => !client.connected);
  // a graceful end here would wait for a PUBACK that can only come after a reconnect it has cancelled
  await endClient(client, 60_000);
  assert.equal(client.disconnected, true);
});

test('endClient: a client whose broker went silent (not reading any more) is ended after the grace period', async (t) => {
  const broker = await silentBroker(t, true);
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 100 });
  await endClient(client, 200);
  assert.equal(client.connected, false);
  assert.equal(client.disconnected, true);
});
