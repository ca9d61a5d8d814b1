// `mqiot broker` end to end: the CLI started as a user would, real MQTT.js clients over TCP and
// WebSocket, the Prometheus endpoint, $SYS topics, and a graceful SIGTERM.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { runCli, startBrokerCli, type RunningBroker } from '../support/cli.ts';
import { connectClient, pingBarrier } from '../support/mqtt.ts';
import { waitFor } from '../support/wait.ts';

describe('mqiot broker (running CLI)', () => {
  let broker: RunningBroker;
  const clients: MqttClient[] = [];

  before(async () => {
    // $SYS every second so the test does not wait for the default 10 s.
    broker = await startBrokerCli([], { MQIOT_BROKER_SYS_INTERVAL: '1' });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker.stop();
  });

  test('logs where each listener listens', () => {
    const text = broker.stdout();
    for (const port of [broker.port, broker.wsPort, broker.metricsPort]) {
      assert.match(text, new RegExp(`"port":${port},"msg":"listening"`));
    }
  });

  test('MQTT 3.1.1 over TCP and MQTT 5 over WebSocket (subprotocol mqtt) reach each other', async () => {
    const tcp = await connectClient(`mqtt://127.0.0.1:${broker.port}`, {
      protocolVersion: 4,
      clientId: 'cli-tcp',
    });
    const ws = await connectClient(`ws://127.0.0.1:${broker.wsPort}/mqtt`, {
      protocolVersion: 5,
      clientId: 'cli-ws',
    });
    clients.push(tcp, ws);
    await ws.subscribeAsync('cli/+/temp', { qos: 1 });
    await tcp.subscribeAsync('cli/ws/#', { qos: 2 });
    const atWs = new Promise<[string, string]>((r) => ws.once('message', (t, p) => r([t, p.toString()])));
    const atTcp = new Promise<[string, string]>((r) => tcp.once('message', (t, p) => r([t, p.toString()])));
    await tcp.publishAsync('cli/tcp/temp', '21.5', { qos: 1 });
    await ws.publishAsync('cli/ws/hello', 'from ws', { qos: 2 });
    assert.deepEqual(await atWs, ['cli/tcp/temp', '21.5']);
    assert.deepEqual(await atTcp, ['cli/ws/hello', 'from ws']);
  });

  test('GET /metrics serves Prometheus text with the broker figures', async () => {
    const res = await fetch(`http://127.0.0.1:${broker.metricsPort}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.ok(value('mqiot_clients_connected') >= 2, text);
    assert.ok(value('mqiot_messages_received_total') >= 2, text);
    assert.ok(value('mqiot_bytes_received_total') > 0, text);
    assert.ok(value('mqiot_subscriptions') >= 2, text);
    assert.match(text, /^# TYPE mqiot_messages_received_total counter$/m);
    assert.ok(value('process_resident_memory_bytes') > 0);
    assert.equal((await fetch(`http://127.0.0.1:${broker.metricsPort}/nope`)).status, 404);
  });

  test('$SYS/broker/... topics are retained and updated', async () => {
    const sys = await connectClient(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'cli-sys' });
    clients.push(sys);
    const seen = new Map<string, string>();
    sys.on('message', (topic, payload) => seen.set(topic, payload.toString()));
    await sys.subscribeAsync('$SYS/broker/#');
    await waitFor(
      "seen.has('$SYS/broker/clients/connected') && seen.has('$S...",
      () => seen.has('$SYS/broker/clients/connected') && seen.has('$SYS/broker/version'),
      10_000,
    );
    assert.match(seen.get('$SYS/broker/version') ?? '', /^mqiot \d+\.\d+\.\d+/);
    for (const t of [
      'uptime',
      'bytes/received',
      'messages/sent',
      'subscriptions/count',
      'retained messages/count',
    ]) {
      assert.match(seen.get(`$SYS/broker/${t}`) ?? '', /^\d+$/, t);
    }
    // uptime moves on: the figure is republished every interval (1 s here).
    const first = Number(seen.get('$SYS/broker/uptime'));
    await waitFor(
      "Number(seen.get('$SYS/broker/uptime')) > first",
      () => Number(seen.get('$SYS/broker/uptime')) > first,
      5_000,
    );
    assert.ok(Number(seen.get('$SYS/broker/clients/connected')) >= 1);
  });

  test('a wildcard subscription does not receive $SYS topics [MQTT-4.7.2-1]', async () => {
    const c = await connectClient(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'cli-hash' });
    clients.push(c);
    const topics: string[] = [];
    c.on('message', (t) => topics.push(t));
    await c.subscribeAsync('#');
    // Barrier: a $SYS update published after the subscription (seen by a client subscribed to $SYS);
    // the same publish would have been routed to '#' too, and is in by the PINGRESP.
    const sys = await connectClient(`mqtt://127.0.0.1:${broker.port}`, { clientId: 'cli-sys' });
    clients.push(sys);
    let updates = 0;
    sys.on('message', (_t, _p, packet) => {
      if (!packet.retain) updates++; // a live publish, not the stored value
    });
    await sys.subscribeAsync('$SYS/broker/uptime');
    await waitFor('a live $SYS update', () => updates > 0, 5_000);
    await pingBarrier(c);
    assert.equal(
      topics.filter((t) => t.startsWith('$')).length,
      0,
      `got ${topics.filter((t) => t.startsWith('$'))}`,
    );
  });
});

describe('mqiot broker shutdown', () => {
  test('SIGTERM: MQTT 5 clients receive DISCONNECT 0x8B (server shutting down) and the process exits 0', async () => {
    const broker = await startBrokerCli();
    const v5 = await connectClient(`mqtt://127.0.0.1:${broker.port}`, {
      protocolVersion: 5,
      clientId: 'bye-5',
    });
    const v4 = await connectClient(`mqtt://127.0.0.1:${broker.port}`, {
      protocolVersion: 4,
      clientId: 'bye-4',
    });
    const disconnect = new Promise<number | undefined>((r) => v5.once('disconnect', (p) => r(p.reasonCode)));
    const v4Closed = new Promise<void>((r) => v4.once('close', () => r()));
    const code = await broker.stop();
    assert.equal(await disconnect, 0x8b);
    await v4Closed;
    assert.equal(code, 0, broker.stderr());
    assert.match(broker.stdout(), /"msg":"broker stopped"/);
    await Promise.all([v5.endAsync(true), v4.endAsync(true)]);
  });

  test('SIGINT also stops the broker with exit code 0', async () => {
    const broker = await startBrokerCli();
    broker.child.kill('SIGINT');
    assert.equal(await broker.exited, 0, broker.stderr());
  });
});

describe('mqiot broker command line', () => {
  test('--help prints the options and exits 0', async () => {
    const cli = runCli(['broker', '--help']);
    assert.equal(await cli.exited, 0);
    for (const flag of ['--port', '--ws-port', '--metrics-port', '--host', '--config']) {
      assert.ok(cli.stdout().includes(flag), flag);
    }
  });

  test('an unknown flag or a bad port is a usage error (exit 2)', async () => {
    const unknown = runCli(['broker', '--prot', '1']);
    assert.equal(await unknown.exited, 2);
    assert.match(unknown.stderr(), /--prot/);
    const bad = runCli(['broker', '--port', 'eighty']);
    assert.equal(await bad.exited, 2);
    assert.match(bad.stderr(), /--port expects a port number/);
  });

  test('a port already in use is reported, exit 1', async () => {
    const first = await startBrokerCli();
    const second = runCli([
      'broker',
      '--host',
      '127.0.0.1',
      '--port',
      String(first.port),
      '--ws-port',
      'off',
      '--metrics-port',
      'off',
    ]);
    assert.equal(await second.exited, 1);
    assert.match(second.stderr(), /cannot listen.*EADDRINUSE/);
    await first.stop();
  });
});
