import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { parseAccessOptions } from '../../src/access/config.ts';
import { accessOptionsFromArgs } from '../../src/cli/commands/access.ts';
import { Mosquitto } from '../support/mosquitto.ts';
import { canConnect, freePort } from '../support/ports.ts';
import { waitFor } from '../support/wait.ts';
import { tempDir } from '../support/temp.ts';

const BIN = fileURLToPath(new URL('../../bin/mqiot.js', import.meta.url));
const dir = tempDir({ after }, 'mqiot-access-cli-');

test('config: URLs, credentials from the URL, TLS defaults; errors name the field', () => {
  const o = parseAccessOptions({
    broker1: 'mqtts://u%40x:p@b1.example',
    broker2: { url: 'mqtt://[::1]:1884', username: 'x' },
  });
  assert.deepEqual(
    [o.broker1.tls, o.broker1.port, o.broker1.username, o.broker1.password, o.broker1.url],
    [true, 8883, 'u@x', 'p', 'mqtts://b1.example:8883'],
  );
  assert.deepEqual(
    [o.broker2.host, o.broker2.port, o.broker2.tls, o.broker2.username],
    ['::1', 1884, false, 'x'],
  );
  assert.ok(Object.isFrozen(o));
  assert.throws(
    () => parseAccessOptions({ broker1: 'mqtt://a', broker2: 'mqtt://b', failbackHoldMs: -1 }),
    /failbackHoldMs/,
  );
  assert.throws(
    () => parseAccessOptions({ broker1: 'mqtt://a', broker2: 'mqtt://b', bogus: 1 } as never),
    /bogus: unknown/,
  );
  assert.throws(() => parseAccessOptions({ broker1: 'mqtt://a' }), /broker2: is required/);
});

test('CLI options: flags > environment > file', () => {
  const file = join(dir, 'access.yaml');
  writeFileSync(
    file,
    'access:\n  broker1: mqtt://file1:1\n  broker2: mqtt://file2:2\n  failbackHoldMs: 7000\n  listenPort: 1999\n',
  );
  const { options } = accessOptionsFromArgs(
    ['--config', file, '--broker1', 'mqtt://flag1:11', '--failback-hold', '2'],
    {
      MQIOT_ACCESS_BROKER2: 'mqtt://env2:22',
    },
  );
  assert.equal(options.broker1.url, 'mqtt://flag1:11');
  assert.equal(options.broker2.url, 'mqtt://env2:22');
  assert.equal(options.failbackHoldMs, 2000);
  assert.equal(options.listenPort, 1999);
  const bad = spawnSync(process.execPath, [BIN, 'access', '--broker1', 'mqtt://a', '--broker2', 'ftp://b'], {
    encoding: 'utf8',
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /broker2\.url: scheme ftp:/);
});

test(
  '`mqiot access` end to end: mosquitto_pub through the module reaches Broker1, /metrics counts it',
  { timeout: 60_000 },
  async () => {
    const b1 = await Mosquitto.start();
    const b2 = await Mosquitto.start();
    const port = await freePort();
    const metricsPort = await freePort();
    const child = spawn(
    process.execPath,
    [BIN, 'access', '--host', '127.0.0.1', '--listen', String(port), '--broker1', `mqtt://127.0.0.1:${b1.port}`,
      '--broker2', `mqtt://127.0.0.1:${b2.port}`, '--metrics-port', String(metricsPort), '--log-level', 'warn'],
    { stdio: 'ignore' },
  ); // prettier-ignore
    try {
      await waitFor('mqiot access listening', () => canConnect(port), 20_000);
      // The receiver on Broker1 is subscribed once its SUBACK is in (no waiting for a process to start).
      const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${b1.port}`, { reconnectPeriod: 0 });
      const received = new Promise<string>((r) => sub.once('message', (_t, p) => r(p.toString())));
      await sub.subscribeAsync('cli/#', { qos: 1 });
      const pub = spawnSync(
        'mosquitto_pub',
        ['-h', '127.0.0.1', '-p', String(port), '-t', 'cli/x', '-m', 'hello', '-q', '1', '-V', 'mqttv5'],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(pub.status, 0, pub.stderr);
      assert.equal(await received, 'hello');
      await sub.endAsync();
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      assert.match(text, /^mqiot_access_messages_published_total\{upstream="broker1"\} 1$/m);
      assert.match(text, /^mqiot_access_messages_acknowledged_total\{upstream="broker1"\} 1$/m);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      await b1.dispose();
      await b2.dispose();
    }
  },
);
