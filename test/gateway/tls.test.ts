// mqtts://: the gateway checks the broker's certificate against the configured CA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { Broker } from '../../src/broker/index.ts';
import { parseGatewayConfig } from '../../src/gateway/config.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { FakePlatform } from './helpers.ts';
import { makeTempDir } from '../support/temp.ts';
import { waitFor } from '../support/wait.ts';

test('TLS: the gateway connects over mqtts:// with tls.caFile; refuses an unknown certificate without it', async (t) => {
  const tmp = makeTempDir();
  const key = join(tmp.dir, 'key.pem');
  const cert = join(tmp.dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const broker = new Broker();
  const tlsServer = tls.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (s) =>
    broker.handle(s),
  );
  // The client that does not trust the certificate aborts the handshake: the server sees it fail.
  let refusedHandshakes = 0;
  tlsServer.on('tlsClientError', () => refusedHandshakes++);
  const tcpServer = net.createServer((s) => broker.handle(s));
  await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => tcpServer.listen(0, '127.0.0.1', () => r()));
  const tlsUrl = `mqtts://127.0.0.1:${(tlsServer.address() as net.AddressInfo).port}`;
  const platform = new FakePlatform(
    `mqtt://127.0.0.1:${(tcpServer.address() as net.AddressInfo).port}`,
    'gw-tls',
  );
  await platform.start();
  const gateways: Gateway[] = [];
  t.after(async () => {
    for (const gw of gateways) await gw.stop({ graceful: false });
    await platform.stop();
    await broker.close();
    tlsServer.close();
    tcpServer.close();
    tmp.cleanup();
  });
  const make = (id: string, tlsConfig: Record<string, unknown>) => {
    const gw = new Gateway(
      parseGatewayConfig(
        {
          gateway: { id },
          mqtt: { urls: [tlsUrl], reconnectMs: 100, tls: tlsConfig },
          queue: { path: './q-' + id + '.db' },
        },
        'test',
        tmp.dir,
      ),
    );
    gateways.push(gw);
    return gw;
  };
  await make('gw-untrusted', {}).start();
  await make('gw-tls', { caFile: 'cert.pem' }).start();
  const birth = await waitFor('birth over TLS', () => platform.of('birth').find((b) => b.gw === 'gw-tls'));
  assert.equal(birth.gw, 'gw-tls');
  // Barrier: the untrusted gateway has tried (and been refused) twice; it has had its chances.
  await waitFor('the untrusted gateway refused twice', () => refusedHandshakes >= 2);
  assert.equal(
    platform.received.filter((m) => m.gw === 'gw-untrusted').length,
    0,
    'a broker certificate the gateway cannot verify is refused',
  );
});
