import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import mqtt from 'mqtt';
import { AccessProxy, parseAccessOptions } from '../../src/access/index.ts';
import { Mosquitto } from '../support/mosquitto.ts';
import { freePort } from '../support/ports.ts';
import { waitFor } from '../support/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'mqiot-access-tls-'));
const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
  rmSync(dir, { recursive: true, force: true });
});

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd}: ${r.stderr}`);
  // Mosquitto started as root drops to its own user before it reads keys and password files.
  chmodSync(dir, 0o755);
  for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
}

test(
  'Broker1 over TLS with the module’s own credentials; Broker2 plain: the client needs neither',
  { timeout: 60_000 },
  async () => {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    const passwords = join(dir, 'passwd');
    run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key,
    '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']); // prettier-ignore
    run('mosquitto_passwd', ['-c', '-b', passwords, 'edge', 's3cret']);
    const tlsPort = await freePort();
    const b1 = await Mosquitto.start(undefined, [
      'allow_anonymous false',
      `password_file ${passwords}`,
      `listener ${tlsPort} 127.0.0.1`,
      `certfile ${cert}`,
      `keyfile ${key}`,
    ]);
    cleanup.push(() => b1.dispose());
    const b2 = await Mosquitto.start();
    cleanup.push(() => b2.dispose());
    const proxy = new AccessProxy(
      parseAccessOptions({
        listenHost: '127.0.0.1',
        listenPort: 0,
        broker1: { url: `mqtts://127.0.0.1:${tlsPort}`, username: 'edge', password: 's3cret', caFile: cert },
        broker2: `mqtt://127.0.0.1:${b2.port}`,
      }),
    );
    const { port } = await proxy.listen();
    cleanup.push(() => proxy.close());
    const watch = await mqtt.connectAsync(`mqtt://127.0.0.1:${b1.port}`, {
      username: 'edge',
      password: 's3cret',
      reconnectPeriod: 0,
    });
    cleanup.push(() => watch.endAsync(true));
    await watch.subscribeAsync('tls/#', { qos: 1 });
    const got: string[] = [];
    watch.on('message', (_t, p) => got.push(p.toString()));
    const terminal = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      reconnectPeriod: 0,
      protocolVersion: 5,
    });
    cleanup.push(() => terminal.endAsync(true));
    await waitFor('TLS link up', () => [...proxy.sessions][0]?.links[0].isUp === true, 5000);
    assert.equal([...proxy.sessions][0]?.active, 0);
    await terminal.publishAsync('tls/x', 'over-tls', { qos: 1 });
    await waitFor('message on Broker1', () => got.length === 1, 5000);
    assert.deepEqual(got, ['over-tls']);
  },
);

test(
  'Broker1’s certificate is verified: an untrusted certificate keeps the link down and traffic on Broker2',
  { timeout: 60_000 },
  async () => {
    const cert = join(dir, 'other.pem');
    const key = join(dir, 'other.key');
    run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key,
    '-out', cert, '-days', '1', '-subj', '/CN=localhost']); // prettier-ignore
    const tlsPort = await freePort();
    const b1 = await Mosquitto.start(undefined, [
      `listener ${tlsPort} 127.0.0.1`,
      `certfile ${cert}`,
      `keyfile ${key}`,
    ]);
    cleanup.push(() => b1.dispose());
    const b2 = await Mosquitto.start();
    cleanup.push(() => b2.dispose());
    const proxy = new AccessProxy(
      parseAccessOptions({
        listenHost: '127.0.0.1',
        listenPort: 0,
        broker1: `mqtts://127.0.0.1:${tlsPort}`, // no CA given: the self-signed certificate is not trusted
        broker2: `mqtt://127.0.0.1:${b2.port}`,
      }),
    );
    const { port } = await proxy.listen();
    cleanup.push(() => proxy.close());
    const terminal = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    cleanup.push(() => terminal.endAsync(true));
    await terminal.publishAsync('tls/y', 'via-b2', { qos: 1 });
    assert.equal([...proxy.sessions][0]?.active, 1);
    assert.equal(proxy.counters.published[1], 1);
  },
);
