// Black box: start `mqiot up` as a user would, talk to it with a real MQTT client and HTTP.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { encodeEnvelope } from '../../src/protocol/envelope.ts';

const BIN = new URL('../../bin/mqiot.js', import.meta.url).pathname;
const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('mqiot up (CLI, black box)', () => {
  let child: ChildProcess;
  let dir: string;
  let urls: { mqttUrl: string; httpUrl: string };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-up-'));
    child = spawn(
      process.execPath,
      [
        BIN,
        'up',
        '--data-dir',
        dir,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--http-port',
        '0',
        '--ws-port',
        'off',
        '--metrics-port',
        'off',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    urls = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('mqiot up did not start in time')), 30_000);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        try {
          const entry = JSON.parse(line) as { msg?: string; mqttUrl?: string; httpUrl?: string };
          if (entry.msg === 'mqiot up: running') {
            clearTimeout(timer);
            resolve({ mqttUrl: entry.mqttUrl!, httpUrl: entry.httpUrl! });
          }
        } catch {
          // not a log line
        }
      });
      child.once('exit', (code) => reject(new Error(`mqiot up exited early with ${code}`)));
    });
  });

  after(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('decodes what a gateway publishes and serves it over HTTP; stops on SIGTERM', async () => {
    const client = await mqtt.connectAsync(urls.mqttUrl, { clientId: 'mqiot-gw-cli-gw', reconnectPeriod: 0 });
    const now = Date.now();
    await client.publishAsync(
      'mqiot/gw/cli-gw/up',
      encodeEnvelope({
        v: 1,
        k: 'birth',
        gw: 'cli-gw',
        seq: 1,
        ts: now,
        epoch: 'x',
        devices: [{ dev: 'm-1', c: 'dlt645-2007' }],
      }),
      { qos: 1 },
    );
    await client.publishAsync(
      'mqiot/gw/cli-gw/up',
      encodeEnvelope({
        v: 1,
        k: 'data',
        gw: 'cli-gw',
        seq: 2,
        ts: now,
        frames: [
          {
            dev: 'm-1',
            c: 'dlt645-2007',
            ts: now,
            seq: 0,
            raw: hex('68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16'),
          },
        ],
      }),
      { qos: 1 },
    );
    let latest: { items: { name: string; value: number; unit: string }[] } = { items: [] };
    for (let i = 0; i < 400 && latest.items.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      latest = (await (await fetch(`${urls.httpUrl}/api/devices/m-1/latest`)).json()) as typeof latest;
    }
    assert.deepEqual(
      latest.items.map((p) => [p.name, p.value, p.unit]),
      [['energy_active_forward_total', 0.26, 'kWh']],
    );
    await client.endAsync();
    const docs = await fetch(`${urls.httpUrl}/api/docs`);
    assert.equal(docs.status, 200);
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 0);
  });
});
