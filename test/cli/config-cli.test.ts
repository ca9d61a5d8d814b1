// Configuration as a user meets it through `mqiot broker`: a YAML file, environment overrides,
// and errors that name the field and where the bad value came from.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import mqtt, { type IConnackPacket } from 'mqtt';
import { runCli } from '../support/cli.ts';
import { connectClient } from '../support/mqtt.ts';
import { freePort } from '../support/ports.ts';
import { PROCESS_START_MS, waitFor } from '../support/wait.ts';
import { tempDir } from '../support/temp.ts';

const dir = tempDir({ after }, 'mqiot-cli-config-');

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('mqiot broker --config', () => {
  test('a bad value in a YAML file: non-zero exit, message names the field and the file', async () => {
    const path = file('bad-port.yaml', 'broker:\n  port: 99999\n');
    const cli = runCli(['broker', '--config', path]);
    assert.equal(await cli.exited, 2);
    assert.match(cli.stderr(), /broker\.port/);
    assert.ok(cli.stderr().includes(path), cli.stderr());
    assert.match(cli.stderr(), /65535/);
  });

  test('an unknown field is refused with a suggestion', async () => {
    const path = file('typo.yaml', 'broker:\n  mqtt:\n    maxkeepalive: 60\n');
    const cli = runCli(['broker', '--config', path]);
    assert.equal(await cli.exited, 2);
    assert.match(cli.stderr(), /broker\.mqtt\.maxkeepalive: unknown field \(did you mean 'maxKeepAlive'\?\)/);
  });

  test("a range the broker checks itself is reported against the file's field", async () => {
    const path = file('recv-max.json', JSON.stringify({ broker: { mqtt: { receiveMaximum: 0 } } }));
    const cli = runCli(['broker', '--config', path]);
    assert.equal(await cli.exited, 2);
    assert.match(cli.stderr(), /broker\.mqtt\.receiveMaximum/);
    assert.ok(cli.stderr().includes(path));
  });

  test('a file that is not YAML, or missing, is named in the error', async () => {
    const broken = file('broken.yaml', 'broker: [unclosed\n');
    const a = runCli(['broker', '--config', broken]);
    assert.equal(await a.exited, 2);
    assert.ok(a.stderr().includes(broken));
    const b = runCli(['broker', '--config', join(dir, 'absent.yaml')]);
    assert.equal(await b.exited, 2);
    assert.match(b.stderr(), /absent\.yaml: \(file\): cannot read/);
  });

  test('the file configures the broker: server keep alive cap reaches an MQTT 5 CONNACK', async () => {
    const port = await freePort();
    const path = file(
      'keepalive.yaml',
      `broker:\n  port: ${port}\n  host: 127.0.0.1\n  mqtt:\n    maxKeepAlive: 60\n`,
    );
    const cli = runCli(['broker', '--config', path, '--ws-port', 'off', '--metrics-port', 'off']);
    await waitFor(
      () => cli.stderr(),
      () => cli.stdout().includes('"broker started"'),
      PROCESS_START_MS,
    );
    const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
      protocolVersion: 5,
      keepalive: 120,
      reconnectPeriod: 0,
    });
    const connack = await new Promise<IConnackPacket>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    // [MQTT-3.2.2-21] the server tells the client the keep alive it must use
    assert.equal(connack.properties?.serverKeepAlive, 60);
    await client.endAsync();
    assert.equal(await cli.stop(), 0);
  });
});

describe('environment overrides', () => {
  test('MQIOT_BROKER_PORT and MQIOT_BROKER_HOST choose the listener; flags win over them', async () => {
    const [envPort, flagWsPort] = [await freePort(), await freePort()];
    const cli = runCli(['broker', '--ws-port', String(flagWsPort), '--metrics-port', 'off'], {
      MQIOT_BROKER_PORT: String(envPort),
      MQIOT_BROKER_HOST: '127.0.0.1',
      MQIOT_BROKER_WS_PORT: '1', // overridden by --ws-port
    });
    await waitFor(
      () => cli.stderr(),
      () => cli.stdout().includes('"broker started"'),
      PROCESS_START_MS,
    );
    const tcp = await connectClient(`mqtt://127.0.0.1:${envPort}`);
    const ws = await connectClient(`ws://127.0.0.1:${flagWsPort}/mqtt`);
    await Promise.all([tcp.endAsync(), ws.endAsync()]);
    assert.equal(await cli.stop(), 0);
  });

  test('a bad environment value names the variable', async () => {
    const cli = runCli(['broker'], { MQIOT_BROKER_MQTT_MAXIMUM_QO_S: '3', MQIOT_BROKER_PORT: 'abc' });
    assert.equal(await cli.exited, 2);
    assert.match(cli.stderr(), /environment MQIOT_BROKER_PORT: broker\.port: expected an integer/);
  });

  test('MQIOT_LOG_LEVEL=warn silences the info lines', async () => {
    const port = await freePort();
    const cli = runCli(['broker', '--host', '127.0.0.1', '--port', String(port), '--ws-port', 'off'], {
      MQIOT_LOG_LEVEL: 'warn',
      MQIOT_BROKER_METRICS_PORT: 'off',
    });
    // No "started" line to wait for at warn level: wait until the port answers.
    const client = await waitFor(
      () => `the broker on ${port}: ${cli.stderr()}`,
      () => connectClient(`mqtt://127.0.0.1:${port}`).catch(() => undefined),
      PROCESS_START_MS,
    );
    await client.endAsync();
    assert.equal(await cli.stop(), 0);
    assert.doesNotMatch(cli.stdout(), /"level":30/);
  });
});
