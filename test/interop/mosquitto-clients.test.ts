// Interop with Debian's mosquitto_pub / mosquitto_sub against our broker (the `mqiot broker` CLI):
// MQTT 3.1.1 and 5.0, QoS 0/1/2, retained messages, wills, user properties.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { startBrokerCli, type RunningBroker } from '../support/cli.ts';
import { waitFor } from '../support/wait.ts';

let broker: RunningBroker;
before(async () => {
  broker = await startBrokerCli(['--ws-port', 'off', '--metrics-port', 'off']);
});
after(async () => {
  await broker.stop();
});

interface Run {
  out(): string;
  err(): string;
  done: Promise<number>;
  kill(signal?: NodeJS.Signals): void;
}

function run(cmd: 'mosquitto_pub' | 'mosquitto_sub', args: string[]): Run {
  // stdbuf: mosquitto_sub block-buffers stdout into a pipe; line buffering lets us see SUBACK as it happens.
  const child = spawn('stdbuf', ['-oL', cmd, '-h', '127.0.0.1', '-p', String(broker.port), ...args], {
    stdio: 'pipe',
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  // 'close', not 'exit': the exit can come before the last of stdout has been read.
  const done = new Promise<number>((r) =>
    child.once('close', (code, signal) => r(code ?? (signal ? 128 : -1))),
  );
  return { out: () => out, err: () => err, done, kill: (s = 'SIGTERM') => child.kill(s) };
}

async function pub(args: string[]): Promise<void> {
  const p = run('mosquitto_pub', args);
  assert.equal(await p.done, 0, p.err());
}

/** Starts mosquitto_sub and resolves once its SUBACK arrived (-d prints "Received SUBACK"). */
async function sub(args: string[]): Promise<Run> {
  const s = run('mosquitto_sub', ['-d', ...args]);
  await waitFor(
    () => s.out() + s.err(),
    () => /received SUBACK/i.test(s.out() + s.err()),
    10_000,
  );
  return s;
}

/** The non-debug lines (messages) mosquitto_sub printed. */
function messages(s: Run): string[] {
  return s
    .out()
    .split('\n')
    .filter((l) => l.startsWith('MSG '));
}

const FORMAT = ['-F', 'MSG %t|%p|q%q|r%r'];

for (const version of ['mqttv311', 'mqttv5'] as const) {
  describe(`mosquitto clients, ${version}`, () => {
    for (const qos of [0, 1, 2] as const) {
      test(`QoS ${qos} publish reaches a QoS 2 subscriber at QoS ${qos} [MQTT-3.3.5-1]`, async () => {
        const topic = `interop/${version}/qos${qos}`;
        const s = await sub(['-V', version, '-t', topic, '-q', '2', '-C', '1', '-W', '10', ...FORMAT]);
        await pub(['-V', version, '-t', topic, '-m', `hello ${qos}`, '-q', String(qos)]);
        assert.equal(await s.done, 0, s.err());
        assert.deepEqual(messages(s), [`MSG ${topic}|hello ${qos}|q${qos}|r0`]);
      });
    }

    test('the granted QoS caps delivery: QoS 2 publish to a QoS 1 subscription arrives at QoS 1', async () => {
      const topic = `interop/${version}/downgrade`;
      const s = await sub(['-V', version, '-t', topic, '-q', '1', '-C', '1', '-W', '10', ...FORMAT]);
      await pub(['-V', version, '-t', topic, '-m', 'x', '-q', '2']);
      assert.equal(await s.done, 0);
      assert.deepEqual(messages(s), [`MSG ${topic}|x|q1|r0`]);
    });

    test('retained: set, delivered on subscribe with retain flag, then cleared by an empty payload [MQTT-3.3.1-6] [MQTT-3.3.1-10]', async () => {
      const topic = `interop/${version}/retained`;
      await pub(['-V', version, '-t', topic, '-m', 'kept', '-q', '1', '-r']);
      const s1 = run('mosquitto_sub', ['-V', version, '-t', topic, '-C', '1', '-W', '10', ...FORMAT]);
      assert.equal(await s1.done, 0, s1.err());
      assert.deepEqual(messages(s1), [`MSG ${topic}|kept|q0|r1`]);
      await pub(['-V', version, '-t', topic, '-n', '-r']);
      // Nothing retained any more: the subscriber times out (-W) with no message.
      const s2 = run('mosquitto_sub', ['-V', version, '-t', topic, '-C', '1', '-W', '1', ...FORMAT]);
      await s2.done;
      assert.deepEqual(messages(s2), []);
    });

    test('will: a client that dies without DISCONNECT gets its will published [MQTT-3.1.2-8]', async () => {
      const topic = `interop/${version}/will`;
      const watcher = await sub(['-V', version, '-t', topic, '-q', '1', '-C', '1', '-W', '15', ...FORMAT]);
      const dying = await sub([
        '-V',
        version,
        '-t',
        'interop/never',
        '--will-topic',
        topic,
        '--will-payload',
        'gone',
        '--will-qos',
        '1',
      ]);
      dying.kill('SIGKILL'); // no DISCONNECT: the broker sees the socket close
      assert.equal(await watcher.done, 0, watcher.err());
      assert.deepEqual(messages(watcher), [`MSG ${topic}|gone|q1|r0`]);
    });

    test('will: a clean DISCONNECT discards the will [MQTT-3.1.2-10]', async () => {
      const topic = `interop/${version}/no-will`;
      const watcher = await sub(['-V', version, '-t', topic, '-C', '1', '-W', '2', ...FORMAT]);
      // mosquitto_pub connects with a will, publishes, and ends with a normal DISCONNECT.
      await pub([
        '-V',
        version,
        '-t',
        'interop/other',
        '-m',
        'hi',
        '--will-topic',
        topic,
        '--will-payload',
        'gone',
      ]);
      await watcher.done;
      assert.deepEqual(messages(watcher), []);
    });
  });
}

describe('mosquitto clients, MQTT 5 properties', () => {
  test('user properties, content type and response topic pass through end to end [MQTT-3.3.2-17] [MQTT-3.3.2-20]', async () => {
    const topic = 'interop/v5/props';
    const s = await sub(['-V', 'mqttv5', '-t', topic, '-C', '1', '-W', '10', '-F', 'MSG %t|%p|%P|%C|%R']);
    await pub([
      '-V',
      'mqttv5',
      '-t',
      topic,
      '-m',
      'p',
      '-q',
      '1',
      '-D',
      'publish',
      'user-property',
      'site',
      'north',
      '-D',
      'publish',
      'user-property',
      'unit',
      'kWh',
      '-D',
      'publish',
      'content-type',
      'text/plain',
      '-D',
      'publish',
      'response-topic',
      'interop/v5/reply',
    ]);
    assert.equal(await s.done, 0, s.err());
    assert.deepEqual(messages(s), [`MSG ${topic}|p|site:north unit:kWh|text/plain|interop/v5/reply`]);
  });

  test('a v5 will carries its user property', async () => {
    const topic = 'interop/v5/will-props';
    const watcher = await sub(['-V', 'mqttv5', '-t', topic, '-C', '1', '-W', '15', '-F', 'MSG %t|%p|%P']);
    const dying = await sub([
      '-V',
      'mqttv5',
      '-t',
      'interop/never',
      '--will-topic',
      topic,
      '--will-payload',
      'bye',
      '-D',
      'will',
      'user-property',
      'why',
      'crash',
    ]);
    dying.kill('SIGKILL');
    assert.equal(await watcher.done, 0, watcher.err());
    assert.deepEqual(messages(watcher), [`MSG ${topic}|bye|why:crash`]);
  });

  test('a v3.1.1 publisher and a v5 subscriber interoperate (and the other way round)', async () => {
    const topic = 'interop/mixed';
    const v5 = await sub(['-V', 'mqttv5', '-t', topic, '-q', '1', '-C', '1', '-W', '10', ...FORMAT]);
    await pub(['-V', 'mqttv311', '-t', topic, '-m', 'from311', '-q', '1']);
    assert.equal(await v5.done, 0);
    assert.deepEqual(messages(v5), [`MSG ${topic}|from311|q1|r0`]);
    const v3 = await sub(['-V', 'mqttv311', '-t', topic, '-q', '2', '-C', '1', '-W', '10', ...FORMAT]);
    await pub([
      '-V',
      'mqttv5',
      '-t',
      topic,
      '-m',
      'from5',
      '-q',
      '2',
      '-D',
      'publish',
      'user-property',
      'a',
      'b',
    ]);
    assert.equal(await v3.done, 0);
    assert.deepEqual(messages(v3), [`MSG ${topic}|from5|q2|r0`]);
  });
});
