// The listeners in front of a real Broker, in process: TCP, WebSocket (subprotocol negotiation),
// TLS with a throw-away certificate, the metrics endpoint, start-up failures and draining.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import mqttPacket from 'mqtt-packet';
import { WebSocket } from 'ws';
import { pino } from 'pino';
import { Broker } from '../../src/broker/index.ts';
import { startListeners, type Listener } from '../../src/app/listeners.ts';
import { chooseSubprotocol } from '../../src/broker/server/ws.ts';
import { ConfigError, DEFAULT_CONFIG, type BrokerConfig } from '../../src/app/config/index.ts';
import { connectClient } from '../support/mqtt.ts';
import { freePort } from '../support/ports.ts';

const silent = pino({ level: 'silent' });

async function config(overrides: Partial<BrokerConfig> = {}): Promise<BrokerConfig> {
  return {
    ...DEFAULT_CONFIG.broker,
    host: '127.0.0.1',
    port: 0,
    wsPort: 0,
    metricsPort: 0,
    ...overrides,
  };
}

function portOf(listeners: Listener[], transport: Listener['transport']): number {
  const l = listeners.find((x) => x.transport === transport);
  assert.ok(l, `no ${transport} listener`);
  return l.port;
}

async function shutdown(broker: Broker, listeners: Listener[]): Promise<void> {
  for (const l of listeners) l.stopAccepting();
  await broker.close();
  await Promise.all(listeners.map((l) => l.drain(1000)));
}

describe('WebSocket listener', () => {
  test('chooses the mqtt subprotocol when offered [MQTT-6.0.0-3]', () => {
    assert.equal(chooseSubprotocol(new Set(['mqtt'])), 'mqtt');
    assert.equal(chooseSubprotocol(new Set(['foo', 'mqttv3.1'])), 'mqttv3.1');
    assert.equal(chooseSubprotocol(new Set(['foo'])), false);
  });

  test('carries MQTT in binary frames: a raw WebSocket CONNECT gets a CONNACK, with subprotocol mqtt', async () => {
    const broker = new Broker({}, { logger: silent });
    const listeners = await startListeners(broker, await config({ metricsPort: null }), silent);
    const ws = new WebSocket(`ws://127.0.0.1:${portOf(listeners, 'ws')}/any/path`, ['mqtt']);
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    assert.equal(ws.protocol, 'mqtt');
    const connect = mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      clientId: 'raw-ws',
      keepalive: 30,
    });
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const connack = new Promise<mqttPacket.IConnackPacket>((r) =>
      parser.on('packet', (p) => p.cmd === 'connack' && r(p as mqttPacket.IConnackPacket)),
    );
    ws.on('message', (data: Buffer) => parser.parse(data));
    ws.send(connect);
    assert.equal((await connack).returnCode, 0);
    ws.close();
    await shutdown(broker, listeners);
  });

  test('a plain HTTP request to the WebSocket port gets 426 Upgrade Required', async () => {
    const broker = new Broker({}, { logger: silent });
    const listeners = await startListeners(broker, await config({ metricsPort: null }), silent);
    const res = await fetch(`http://127.0.0.1:${portOf(listeners, 'ws')}/mqtt`);
    assert.equal(res.status, 426);
    await res.text();
    await shutdown(broker, listeners);
  });
});

describe('TLS listener', () => {
  // a committed throw-away certificate (fixtures/README.md), so no openssl binary is needed
  const cert = fileURLToPath(new URL('./fixtures/cert.pem', import.meta.url));
  const key = fileURLToPath(new URL('./fixtures/key.pem', import.meta.url));
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-tls-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('serves MQTT over TLS when cert and key are configured', async () => {
    const broker = new Broker({}, { logger: silent });
    const tlsPort = await freePort();
    const listeners = await startListeners(
      broker,
      await config({ wsPort: null, metricsPort: null, tls: { port: tlsPort, cert, key, ca: null } }),
      silent,
    );
    assert.deepEqual(
      listeners.map((l) => l.transport),
      ['tcp', 'tls'],
    );
    const client = await connectClient(`mqtts://127.0.0.1:${tlsPort}`, {
      ca: readFileSync(cert),
      clientId: 'tls-1',
    });
    await client.subscribeAsync('tls/t');
    const got = new Promise<string>((r) => client.once('message', (_t, p) => r(p.toString())));
    await client.publishAsync('tls/t', 'secret', { qos: 1 });
    assert.equal(await got, 'secret');
    await client.endAsync();
    await shutdown(broker, listeners);
  });

  test('an unreadable certificate is a ConfigError naming broker.tls.cert, and nothing stays open', async () => {
    const broker = new Broker({}, { logger: silent });
    const tcpPort = await freePort();
    await assert.rejects(
      startListeners(
        broker,
        await config({
          port: tcpPort,
          metricsPort: null,
          tls: { port: 0, cert: join(dir, 'nope.pem'), key, ca: null },
        }),
        silent,
      ),
      (err) => err instanceof ConfigError && err.field === 'broker.tls.cert',
    );
    // the TCP and WebSocket listeners started before TLS were closed again: the port is free
    const again = await startListeners(
      broker,
      await config({ port: tcpPort, wsPort: null, metricsPort: null }),
      silent,
    );
    await shutdown(broker, again);
  });
});

describe('listener lifecycle', () => {
  test('a port in use rejects start-up with EADDRINUSE', async () => {
    const broker = new Broker({}, { logger: silent });
    const first = await startListeners(broker, await config({ wsPort: null, metricsPort: null }), silent);
    const taken = portOf(first, 'tcp');
    await assert.rejects(
      startListeners(broker, await config({ port: taken, wsPort: null, metricsPort: null }), silent),
      /EADDRINUSE/,
    );
    await shutdown(broker, first);
  });

  test('after broker.close() the listeners drain: clients are gone, new connections are refused', async () => {
    const broker = new Broker({}, { logger: silent });
    const listeners = await startListeners(broker, await config({ metricsPort: null }), silent);
    const port = portOf(listeners, 'tcp');
    const client = await connectClient(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5 });
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    const started = Date.now();
    await shutdown(broker, listeners);
    await closed;
    assert.ok(Date.now() - started < 1000, 'drain should not need the grace period');
    await assert.rejects(connectClient(`mqtt://127.0.0.1:${port}`, { connectTimeout: 1000 }));
    client.end(true);
  });
});
