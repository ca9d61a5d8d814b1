import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_BATCH_WINDOW_MS,
  DEFAULT_QOS,
  DEFAULT_QUEUE_RETRY_MAX_MS,
  DEFAULT_QUEUE_RETRY_MS,
  GatewayConfigError,
  loadGatewayConfig,
  parseGatewayConfig,
  queuePath,
} from '../../src/gateway/config.ts';
import { resolveContracts } from '../../src/gateway/contracts.ts';
import { makeTempDir } from '../support/temp.ts';

const minimal = {
  gateway: { id: 'gw-1' },
  mqtt: { urls: ['mqtt://127.0.0.1:1883'] },
  devices: [
    {
      id: 'pm-1',
      contract: 'modbus-tcp',
      transport: { type: 'tcp', host: '127.0.0.1', port: 502 },
      params: { unit: 3 },
      poll: [{ message: 'read-holding-registers', params: { start: 0, count: 2 } }],
    },
  ],
};

test('gateway config: defaults (batching 1 s, QoS 1), device params merged into polls, frozen', () => {
  const c = parseGatewayConfig(minimal, 'x.yaml', '/etc/mqiot');
  assert.equal(c.batching.windowMs, DEFAULT_BATCH_WINDOW_MS);
  assert.equal(c.batching.windowMs, 1000);
  assert.equal(c.mqtt.qos, DEFAULT_QOS);
  assert.equal(c.mqtt.clientId, 'mqiot-gw-gw-1');
  assert.equal(c.queue.path, '/etc/mqiot/mqiot-gateway-gw-1.db', 'relative to the config file');
  assert.equal(c.queue.whenFull, 'drop-oldest');
  assert.equal(c.queue.retryMs, DEFAULT_QUEUE_RETRY_MS, 'resend of a refused message after 1 s');
  assert.equal(c.queue.retryMaxMs, DEFAULT_QUEUE_RETRY_MAX_MS);
  assert.deepEqual(c.devices[0]!.poll[0]!.params, { unit: 3, start: 0, count: 2 });
  assert.ok(Object.isFrozen(c.devices[0]!.poll[0]));
  assert.throws(() => ((c as { id: string }).id = 'x'), TypeError);
});

const bad: [string, (o: typeof minimal & Record<string, unknown>) => void, string][] = [
  ['missing gateway id', (o) => (o.gateway = {} as never), 'gateway.id'],
  ['gateway id with a slash', (o) => (o.gateway = { id: 'a/b' }), 'gateway.id'],
  ['no broker', (o) => (o.mqtt = { urls: [] }), 'mqtt.urls'],
  ['bad broker url', (o) => (o.mqtt = { urls: ['127.0.0.1:1883'] }), 'mqtt.urls[0]'],
  ['qos 3', (o) => ((o as Record<string, unknown>).mqtt = { urls: ['mqtt://h'], qos: 3 }), 'mqtt.qos'],
  ['negative window', (o) => (o.batching = { windowMs: -1 }), 'batching.windowMs'],
  ['unknown full policy', (o) => (o.queue = { whenFull: 'block' }), 'queue.whenFull'],
  ['zero retry delay', (o) => (o.queue = { retryMs: 0 }), 'queue.retryMs'],
  [
    'retry bound below the first delay',
    (o) => (o.queue = { retryMs: 500, retryMaxMs: 100 }),
    'queue.retryMaxMs',
  ],
  [
    'unknown transport',
    (o) => (o.devices[0]!.transport = { type: 'carrier-pigeon' } as never),
    'devices[0].transport.type',
  ],
  [
    'tcp without port',
    (o) => (o.devices[0]!.transport = { type: 'tcp', host: 'h' } as never),
    'devices[0].transport.port',
  ],
  ['poll without message', (o) => (o.devices[0]!.poll = [{}] as never), 'devices[0].poll[0].message'],
  [
    'zero timeout',
    (o) => (o.devices[0]!.poll[0] = { message: 'x', timeoutMs: 0 } as never),
    'devices[0].poll[0].timeoutMs',
  ],
  ['duplicate device', (o) => o.devices.push(o.devices[0]!), 'devices[1].id'],
  [
    'polled push device',
    (o) => (o.devices[0]!.transport = { type: 'udp-listen', port: 1700 } as never),
    'devices[0].poll',
  ],
];
for (const [name, mutate, field] of bad) {
  test(`gateway config: ${name} is refused, naming ${field}`, () => {
    const raw = structuredClone(minimal) as typeof minimal & Record<string, unknown>;
    mutate(raw);
    assert.throws(
      () => parseGatewayConfig(raw, 'gw.yaml'),
      (err: unknown) =>
        err instanceof GatewayConfigError && err.field === field && err.message.startsWith('gw.yaml: '),
    );
  });
}

test('gateway config: unknown contract or message is refused at start, naming the field', () => {
  const c1 = parseGatewayConfig({ ...minimal, devices: [{ ...minimal.devices[0], contract: 'nope' }] });
  assert.throws(
    () => resolveContracts(c1),
    (e: unknown) => e instanceof GatewayConfigError && e.field === 'devices[0].contract',
  );
  const c2 = parseGatewayConfig({
    ...minimal,
    devices: [{ ...minimal.devices[0], poll: [{ message: 'read-everything' }] }],
  });
  assert.throws(
    () => resolveContracts(c2),
    (e: unknown) => e instanceof GatewayConfigError && e.field === 'devices[0].poll[0].message',
  );
});

test('gateway config: YAML file, errors name the file', () => {
  const tmp = makeTempDir();
  try {
    const file = join(tmp.dir, 'gw.yaml');
    writeFileSync(file, 'gateway: { id: g }\nmqtt: { url: "mqtt://127.0.0.1:1883" }\n');
    assert.deepEqual(loadGatewayConfig(file).mqtt.urls, ['mqtt://127.0.0.1:1883']);
    writeFileSync(file, 'gateway: { id: g }\nmqtt: { urls: [nope] }\n');
    assert.throws(
      () => loadGatewayConfig(file),
      new RegExp(`^GatewayConfigError: ${file}: mqtt.urls\\[0\\]`.replace(/\//g, '\\/')),
    );
    assert.throws(() => loadGatewayConfig(join(tmp.dir, 'missing.yaml')), /cannot read/);
  } finally {
    tmp.cleanup();
  }
});

test('gateway: a start that fails (unknown contract) leaves nothing open, and stop() is harmless', async () => {
  const { Gateway } = await import('../../src/gateway/gateway.ts');
  const tmp = makeTempDir();
  try {
    const gw = new Gateway(
      parseGatewayConfig(
        { ...minimal, devices: [{ ...minimal.devices[0], contract: 'nope' }] },
        'x',
        tmp.dir,
      ),
    );
    await assert.rejects(gw.start(), GatewayConfigError);
    await gw.stop();
  } finally {
    tmp.cleanup();
  }
});

test('gateway config: queue paths: ~/ is the home directory, others relative to the config file', () => {
  assert.equal(queuePath('~/.mqiot/q.db', '/etc/mqiot'), join(homedir(), '.mqiot/q.db'));
  assert.equal(queuePath('q.db', '/etc/mqiot'), '/etc/mqiot/q.db');
  assert.equal(queuePath(':memory:', '/etc/mqiot'), ':memory:');
  // the shipped example keeps its queue out of the repository
  const example = new URL('../../examples/gateway-sim.yaml', import.meta.url).pathname;
  const root = new URL('../../', import.meta.url).pathname;
  const config = loadGatewayConfig(example);
  assert.ok(!config.queue.path.startsWith(root), `${config.queue.path} is inside the repository`);
});
