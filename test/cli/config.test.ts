// The configuration loader on its own: defaults, file, environment, precedence, validation, freezing.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, DEFAULT_CONFIG, envName, loadConfig } from '../../src/app/config/index.ts';
import { ROOT } from '../support/cli.ts';
import { tempDir } from '../support/temp.ts';

const dir = tempDir({ after }, 'mqiot-config-');
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfig', () => {
  test('without input it is the defaults, deeply frozen', () => {
    const config = loadConfig({ env: {} });
    assert.deepEqual(config, DEFAULT_CONFIG);
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.broker.mqtt));
    assert.ok(Object.isFrozen(config.broker.mqtt.denySubscribe));
    assert.throws(() => {
      (config.broker as { port: number }).port = 1;
    }, TypeError);
  });

  test('config/mqiot.example.yaml documents exactly the defaults', () => {
    assert.deepEqual(loadConfig({ file: join(ROOT, 'config/mqiot.example.yaml'), env: {} }), DEFAULT_CONFIG);
  });

  test('config/conformance.yaml loads and sets the interop suite behaviours', () => {
    const { mqtt } = loadConfig({ file: join(ROOT, 'config/conformance.yaml'), env: {} }).broker;
    assert.equal(mqtt.maxKeepAlive, 60);
    assert.deepEqual(mqtt.denySubscribe, ['test/nosubscribe']);
    assert.equal(mqtt.outboundTopicAliases, true);
    assert.ok(mqtt.topicAliasMaximum > 0);
  });

  test('precedence: overrides > environment > file > defaults', () => {
    const path = file('p.yaml', 'broker:\n  port: 1001\n  wsPort: 1002\n  metricsPort: 1003\n');
    const config = loadConfig({
      file: path,
      env: { MQIOT_BROKER_WS_PORT: '2002', MQIOT_BROKER_METRICS_PORT: '2003' },
      overrides: { broker: { metricsPort: 3003 } },
    });
    assert.equal(config.broker.port, 1001);
    assert.equal(config.broker.wsPort, 2002);
    assert.equal(config.broker.metricsPort, 3003);
    assert.equal(config.broker.host, DEFAULT_CONFIG.broker.host);
  });

  test('environment names follow the path; values are typed from the default', () => {
    assert.equal(envName('broker.wsPort'), 'MQIOT_BROKER_WS_PORT');
    assert.equal(envName('broker.mqtt.maxKeepAlive'), 'MQIOT_BROKER_MQTT_MAX_KEEP_ALIVE');
    const config = loadConfig({
      env: {
        MQIOT_BROKER_WS_PORT: 'off',
        MQIOT_BROKER_MQTT_RETAIN_AVAILABLE: 'false',
        MQIOT_BROKER_MQTT_DENY_SUBSCRIBE: 'a/b, c/#',
        MQIOT_BROKER_TLS_CERT: '/etc/cert.pem',
        MQIOT_LOG_LEVEL: 'debug',
        MQIOT_BROKER_PORT: '', // empty = unset
      },
    });
    assert.equal(config.broker.wsPort, null);
    assert.equal(config.broker.mqtt.retainAvailable, false);
    assert.deepEqual(config.broker.mqtt.denySubscribe, ['a/b', 'c/#']);
    assert.equal(config.broker.tls.cert, '/etc/cert.pem');
    assert.equal(config.log.level, 'debug');
    assert.equal(config.broker.port, DEFAULT_CONFIG.broker.port);
  });

  test('JSON files are read too', () => {
    const path = file('c.json', JSON.stringify({ log: { level: 'warn' }, broker: { sys: { interval: 0 } } }));
    const config = loadConfig({ file: path, env: {} });
    assert.equal(config.log.level, 'warn');
    assert.equal(config.broker.sys.interval, 0);
  });

  test('errors name the field and where the value came from', () => {
    const path = file('bad.yaml', 'broker:\n  tls:\n    port: -1\n');
    const e1 = configError(() => loadConfig({ file: path, env: {} }));
    assert.equal(e1.field, 'broker.tls.port');
    assert.equal(e1.source, path);
    const e2 = configError(() => loadConfig({ env: { MQIOT_BROKER_MQTT_RETAIN_AVAILABLE: 'maybe' } }));
    assert.equal(e2.source, 'environment MQIOT_BROKER_MQTT_RETAIN_AVAILABLE');
    assert.match(e2.message, /expected true or false, got "maybe"/);
    const e3 = configError(() => loadConfig({ env: {}, overrides: { log: { level: 'loud' as 'info' } } }));
    assert.equal(e3.source, 'command line');
  });

  test('a section given as a scalar, and unknown sections, are refused', () => {
    const e1 = configError(() => loadConfig({ file: file('s.yaml', 'broker: 5\n'), env: {} }));
    assert.equal(e1.field, 'broker');
    const e2 = configError(() => loadConfig({ file: file('u.yaml', 'brokr: {}\n'), env: {} }));
    assert.match(e2.message, /brokr: unknown field/);
  });

  test("the broker's own option checks are reported against the field's source", () => {
    const path = file('r.yaml', 'broker:\n  mqtt:\n    maximumPacketSize: 10\n');
    const e = configError(() => loadConfig({ file: path, env: {} }));
    assert.equal(e.field, 'broker.mqtt.maximumPacketSize');
    assert.equal(e.source, path);
  });
});
