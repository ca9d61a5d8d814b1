/** Interop with the Debian mosquitto_pub / mosquitto_sub clients (MQTT 3.1.1 and 5). */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { startBroker, type TestBroker } from '../support/broker.ts';
import { collect } from '../support/mqtt.ts';
import { waitFor } from '../support/wait.ts';

const run = promisify(execFile);
let tb: TestBroker;
before(async () => {
  tb = await startBroker();
});
after(() => tb.close());

for (const version of ['mqttv311', 'mqttv5'] as const) {
  test(`mosquitto_pub (${version}) → MQTT.js subscriber, QoS 2 and retained`, async () => {
    const sub = await tb.connect({ protocolVersion: 5, clientId: `mjs-${version}` });
    const msgs = collect(sub);
    await sub.subscribeAsync(`interop/${version}`, { qos: 2 });
    await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(tb.port),
      '-V',
      version,
      '-q',
      '2',
      '-r',
      '-t',
      `interop/${version}`,
      '-m',
      'hello',
    ]);
    await waitFor('msgs.length === 1', () => msgs.length === 1);
    assert.equal(msgs[0]?.payload, 'hello');
    assert.equal(msgs[0]?.packet.qos, 2);
  });

  test(`mosquitto_sub (${version}) receives a retained message and a live one`, async () => {
    const topic = `interop/sub/${version}`;
    tb.broker.publish({ topic, payload: Buffer.from('retained'), qos: 1, retain: true });
    const child = spawn('mosquitto_sub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(tb.port),
      '-V',
      version,
      '-q',
      '1',
      '-t',
      topic,
      '-C',
      '2',
      '-v',
    ]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await waitFor('retained line', () => out.includes('retained'), 5000);
    tb.broker.publish({ topic, payload: Buffer.from('live'), qos: 1 });
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.equal(code, 0);
    assert.deepEqual(out.trim().split('\n'), [`${topic} retained`, `${topic} live`]);
  });
}
