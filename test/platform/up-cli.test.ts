// Black box: start `mqiot up` as a user would, talk to it with a real MQTT client and HTTP.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { encodeEnvelope } from '../../src/protocol/envelope.ts';
import { issueGatewayCredentials, startUp, type RunningUp } from '../support/cli.ts';
import { waitFor } from '../support/wait.ts';
import { bearer, login, printedAdminPassword } from '../support/auth.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('mqiot up (CLI, black box)', () => {
  let dir: string;
  let up: RunningUp;
  let gatewayLogin: { username: string; password: string };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-up-'));
    // outside lab mode a gateway needs the credentials the platform issues
    gatewayLogin = await issueGatewayCredentials(dir, 'cli-gw');
    up = await startUp(dir);
  });

  after(async () => {
    await up?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('decodes what a gateway publishes and serves it over HTTP; stops on SIGTERM', async () => {
    // the first start printed the admin's password on the console, and nowhere in the logs
    const password = printedAdminPassword(up.stderr());
    assert.ok(password, `no admin password on the console: ${up.stderr()}`);
    assert.ok(!up.stdout().includes(password), 'the password is not in the log');
    const token = await login(up.httpUrl, 'admin', password);
    const client = await mqtt.connectAsync(up.mqttUrl, {
      clientId: 'mqiot-gw-cli-gw',
      reconnectPeriod: 0,
      ...gatewayLogin,
    });
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
    type Latest = { items: { name: string; value: number; unit: string }[] };
    const latest = await waitFor(
      'the reading of m-1 in the API',
      async () => {
        const got = (await (
          await fetch(`${up.httpUrl}/api/devices/m-1/latest`, { headers: bearer(token) })
        ).json()) as Latest;
        return got.items.length > 0 && got;
      },
      20_000,
    );
    assert.deepEqual(
      latest.items.map((p) => [p.name, p.value, p.unit]),
      [['energy_active_forward_total', 0.26, 'kWh']],
    );
    await client.endAsync();
    const docs = await fetch(`${up.httpUrl}/api/docs`);
    assert.equal(docs.status, 200);
    const code = await up.stop();
    assert.equal(code, 0);
  });
});
