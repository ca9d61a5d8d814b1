/**
 * A local handler that returns a Promise takes responsibility for a client's QoS 1/2 message: the
 * PUBACK/PUBREC waits for it, acks keep their order, and a rejection refuses the message (v5: reason
 * 0x80 in the ack; 3.1.1: the connection closes and the client resends on reconnect).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IPublishPacket, Packet } from 'mqtt';
import type { LocalMessage } from '../../src/broker/index.ts';
import { startBroker, type TestBroker } from '../support/broker.ts';
import { pingBarrier } from '../support/mqtt.ts';
import { waitFor } from '../support/wait.ts';

let tb: TestBroker;
before(async () => {
  tb = await startBroker();
});
after(() => tb.close());

/** An asynchronous handler's pause: one turn of the event loop, no fixed time. */
const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A promise the test settles by hand. */
function deferred(): { promise: Promise<void>; resolve(): void; reject(err: Error): void } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

for (const version of [4, 5] as const) {
  for (const qos of [1, 2] as const) {
    test(`v${version} QoS ${qos}: the ${qos === 1 ? 'PUBACK' : 'PUBREC'} waits for the local handler's promise`, async () => {
      const local = tb.broker.createLocalClient(`slow-${version}-${qos}`);
      const gate = deferred();
      const got: LocalMessage[] = [];
      local.subscribe(`slow/${version}/${qos}`, { qos: 2 }, (m) => {
        got.push(m);
        return gate.promise;
      });
      const c = await tb.connect({ protocolVersion: version, clientId: `pub-slow-${version}-${qos}` });
      let acked = false;
      c.publish(`slow/${version}/${qos}`, 'x', { qos }, (err) => {
        assert.equal(err ?? undefined, undefined);
        acked = true;
      });
      await waitFor('delivery', () => got.length === 1, 5000);
      await pingBarrier(c); // an early ack would have been written before the PINGRESP
      assert.equal(acked, false, 'acknowledged before the handler finished');
      gate.resolve();
      await waitFor('ack after resolve', () => acked, 5000);
      local.close();
    });
  }
}

test('[MQTT-4.6.0-2] PUBACKs keep the PUBLISH order when a later message needs no wait', async () => {
  const local = tb.broker.createLocalClient('order');
  const gate = deferred();
  local.subscribe('order/slow', { qos: 1 }, () => gate.promise);
  local.subscribe('order/fast', { qos: 1 }, () => undefined);
  const c = await tb.connect({ protocolVersion: 5, clientId: 'pub-order' });
  const acks: number[] = [];
  c.on('packetreceive', (p: Packet) => {
    if (p.cmd === 'puback') acks.push(p.messageId!);
  });
  const sent: number[] = [];
  c.on('packetsend', (p: Packet) => {
    if (p.cmd === 'publish') sent.push((p as IPublishPacket).messageId!);
  });
  c.publish('order/slow', 'a', { qos: 1 });
  c.publish('order/fast', 'b', { qos: 1 });
  c.publish('order/nobody', 'c', { qos: 1 });
  await waitFor('publishes sent', () => sent.length === 3, 5000);
  await pingBarrier(c); // the broker has handled all three; an early ack came before the PINGRESP
  assert.deepEqual(acks, [], 'a later PUBACK overtook a waiting one');
  gate.resolve();
  await waitFor('acks', () => acks.length === 3, 5000);
  assert.deepEqual(acks, sent);
  local.close();
});

test('synchronous handlers and other subscribers are acknowledged at once', async () => {
  const local = tb.broker.createLocalClient('sync');
  let n = 0;
  local.subscribe('sync/t', { qos: 1 }, () => n++);
  const c = await tb.connect({ protocolVersion: 5, clientId: 'pub-sync' });
  const started = Date.now();
  for (let i = 0; i < 50; i++) await c.publishAsync('sync/t', 'x', { qos: 1 });
  assert.equal(n, 50);
  assert.ok(Date.now() - started < 5000);
  local.close();
});

for (const qos of [1, 2] as const) {
  test(`v5 QoS ${qos}: a rejecting handler gets reason 0x80 in the ${qos === 1 ? 'PUBACK' : 'PUBREC'}; the resend is taken once`, async () => {
    const local = tb.broker.createLocalClient(`refuse5-${qos}`);
    let attempts = 0;
    const stored: string[] = [];
    local.subscribe(`refuse5/${qos}`, { qos: 2 }, async (m) => {
      attempts++;
      await nextTurn();
      if (attempts === 1) throw new Error('store down');
      stored.push(m.payload.toString());
    });
    const c = await tb.connect({ protocolVersion: 5, clientId: `pub-refuse5-${qos}` });
    const codes: number[] = [];
    c.on('packetreceive', (p: Packet) => {
      if (p.cmd === 'puback' || p.cmd === 'pubrec') codes.push(p.reasonCode ?? 0);
    });
    // the client keeps the message until it is accepted (what the gateway's outbox does)
    let done = false;
    for (let tries = 0; !done && tries < 5; tries++) {
      done = await new Promise<boolean>((resolve) =>
        c.publish(`refuse5/${qos}`, 'reading-1', { qos }, (err) => resolve(!err)),
      );
    }
    assert.equal(done, true);
    assert.deepEqual(codes, [0x80, 0]);
    assert.equal(attempts, 2);
    assert.deepEqual(stored, ['reading-1']);
    assert.equal(c.connected, true, 'v5 refusal keeps the connection');
    local.close();
  });
}

test('3.1.1: a rejecting handler closes the connection; the client resends on reconnect and it is stored once', async () => {
  const local = tb.broker.createLocalClient('refuse4');
  let attempts = 0;
  const stored: string[] = [];
  local.subscribe('refuse4/t', { qos: 1 }, async (m) => {
    attempts++;
    await nextTurn();
    if (attempts === 1) throw new Error('store down');
    stored.push(m.payload.toString());
  });
  const c = await tb.connect({
    protocolVersion: 4,
    clientId: 'pub-refuse4',
    clean: false,
    reconnectPeriod: 100,
  });
  let closes = 0;
  c.on('close', () => closes++);
  const result = await new Promise<Error | undefined>((resolve) =>
    c.publish('refuse4/t', 'reading-1', { qos: 1 }, (err) => resolve(err ?? undefined)),
  );
  assert.equal(result, undefined);
  assert.ok(closes >= 1, 'the connection was closed');
  assert.equal(attempts, 2);
  assert.deepEqual(stored, ['reading-1']);
  c.end(true);
  local.close();
});

test('a rejecting handler on QoS 0 and server-originated messages only logs (no unhandled rejection)', async () => {
  const local = tb.broker.createLocalClient('refuse0');
  let calls = 0;
  local.subscribe('refuse0/#', { qos: 1 }, () => {
    calls++;
    return Promise.reject(new Error('no'));
  });
  const c = await tb.connect({ protocolVersion: 5, clientId: 'pub-refuse0' });
  await c.publishAsync('refuse0/a', 'x', { qos: 0 });
  tb.broker.publish({ topic: 'refuse0/b', payload: Buffer.from('y'), qos: 1 });
  const other = tb.broker.createLocalClient('refuse0-pub');
  other.publish('refuse0/c', Buffer.from('z'), { qos: 1 });
  await waitFor('deliveries', () => calls === 3, 5000);
  await nextTurn(); // the rejections settle
  await pingBarrier(c); // fails if the connection was closed
  assert.equal(c.connected, true);
  other.close();
  local.close();
});

test('a handler that publishes to its own client does not mix the inner promise into the outer ack', async () => {
  const local = tb.broker.createLocalClient('nest');
  let inner = 0;
  local.subscribe('nest/b', { qos: 1 }, () => {
    inner++;
    return Promise.reject(new Error('inner refuses'));
  });
  local.subscribe('nest/a', { qos: 1 }, () => {
    local.publish('nest/b', Buffer.from('echo'), { qos: 1 });
    return nextTurn();
  });
  const c = await tb.connect({ protocolVersion: 5, clientId: 'pub-nest' });
  const codes: number[] = [];
  c.on('packetreceive', (p: Packet) => {
    if (p.cmd === 'puback') codes.push(p.reasonCode ?? 0);
  });
  await c.publishAsync('nest/a', 'x', { qos: 1 });
  assert.equal(inner, 1);
  assert.deepEqual(codes, [0]);
  local.close();
});
