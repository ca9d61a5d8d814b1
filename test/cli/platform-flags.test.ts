// Black box: the flags that `up`, `cloud` and `edge` share reach the running platform, and a bad value
// is one line naming the flag. `mqiot edge` runs on PostgreSQL (a fresh schema) with its own heartbeat
// period, query timeout, WebSocket and metrics ports, and its HTTP port from MQIOT_HTTP_PORT.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import mqtt from 'mqtt';
import pg from 'pg';
import { encodeEnvelope, decodeEnvelope } from '../../src/protocol/envelope.ts';
import { logLines, runCli, type RunningCli } from '../support/cli.ts';
import { canConnect, freePort } from '../support/ports.ts';
import { PROCESS_START_MS, waitFor } from '../support/wait.ts';
import { bearer, login } from '../support/auth.ts';

const ADMIN_PASSWORD = 'edge flags test password';
const dir = mkdtempSync(join(tmpdir(), 'mqiot-platform-flags-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('mqiot up, cloud, edge: platform flags', () => {
  for (const command of ['up', 'cloud', 'edge']) {
    it(`mqiot ${command}: a bad value names the flag (or the variable), exit 2, no stack trace`, async () => {
      const extra = command === 'edge' ? ['--cloud', 'mqtt://127.0.0.1:9'] : [];
      const cases: [string[], Record<string, string>, RegExp][] = [
        [['--query-timeout-ms', '0'], {}, new RegExp(`^mqiot: ${command}: --query-timeout-ms expects`, 'm')],
        [['--heartbeat-ms', 'soon'], {}, /--heartbeat-ms expects a whole number 1\.\.\d+, got 'soon'/],
        [['--command-timeout-ms=-5'], {}, /--command-timeout-ms expects/],
        [['--ws-port', '70000'], {}, /--ws-port expects a whole number 0\.\.65535, got '70000'/],
        [['--metrics-port', 'x'], {}, /--metrics-port expects/],
        [[], { MQIOT_HTTP_PORT: 'eighty' }, /environment MQIOT_HTTP_PORT: http\.port: expected an integer/],
      ];
      if (command !== 'cloud')
        cases.push([['--postgres', 'mysql://x'], {}, /--postgres expects a postgres:\/\/ URL/]);
      for (const [flags, env, message] of cases) {
        const cli = runCli([command, '--data-dir', join(dir, `bad-${command}`), ...extra, ...flags], env);
        assert.equal(await cli.exited, 2, `${flags.join(' ')}: ${cli.stderr()}`);
        assert.match(cli.stderr(), message, flags.join(' '));
        assert.doesNotMatch(cli.stderr(), /\n\s+at /, 'no stack trace');
      }
    });
  }

  it('mqiot up --help, cloud --help and edge --help list the shared flags', async () => {
    for (const command of ['up', 'cloud', 'edge']) {
      const cli = runCli([command, '--help']);
      assert.equal(await cli.exited, 0);
      for (const flag of ['--heartbeat-ms', '--command-timeout-ms', '--query-timeout-ms', '--ws-port'])
        assert.match(cli.stdout(), new RegExp(`^  ${flag} `, 'm'), `${command}: ${flag}`);
      assert.match(cli.stdout(), /MQIOT_HTTP_PORT/, command);
    }
  });

  it('mqiot edge: PostgreSQL, heartbeat period, query timeout, WebSocket and metrics ports, HTTP port from the environment', async (t) => {
    const url = process.env.MQIOT_TEST_PG_URL;
    if (!url) {
      assert.ok(!process.env.CI, 'MQIOT_TEST_PG_URL is required in CI');
      t.skip('MQIOT_TEST_PG_URL not set');
      return;
    }
    const schema = `mqiot_edgeflags_${process.pid}_${Date.now()}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    const [mqttPort, wsPort, metricsPort, httpPort, unusedCloud] = await Promise.all(
      Array.from({ length: 5 }, () => freePort()),
    );
    const sep = url.includes('?') ? '&' : '?';
    const edge: RunningCli = runCli(
      [
        'edge',
        '--cloud',
        `mqtt://127.0.0.1:${unusedCloud}`, // no cloud: the edge keeps forwarding in its queue
        '--data-dir',
        join(dir, 'edge'),
        '--postgres',
        `${url}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
        '--host',
        '127.0.0.1',
        '--port',
        String(mqttPort),
        '--ws-port',
        String(wsPort),
        '--metrics-port',
        String(metricsPort),
        '--heartbeat-ms',
        '4321',
        '--command-timeout-ms',
        '700',
        '--query-timeout-ms',
        '600',
        '--allow-anonymous',
      ],
      { MQIOT_HTTP_PORT: String(httpPort), MQIOT_ADMIN_PASSWORD: ADMIN_PASSWORD },
    );
    t.after(async () => {
      // the edge stops before its schema goes
      await edge.kill();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    });
    await waitFor(
      () => `mqiot edge to log "running": ${edge.stderr() + edge.stdout()}`,
      () =>
        logLines(edge.stdout()).some((l) => l.msg === 'mqiot edge: running') || edge.child.exitCode !== null,
      PROCESS_START_MS,
    );
    assert.equal(edge.child.exitCode, null, edge.stderr());
    const running = logLines(edge.stdout()).find((l) => l.msg === 'mqiot edge: running')!;
    assert.equal(running.httpUrl, `http://127.0.0.1:${httpPort}`, 'HTTP port from MQIOT_HTTP_PORT');

    // the WebSocket and metrics listeners are where the flags put them
    assert.ok(await canConnect(wsPort), 'MQTT over WebSocket listens on --ws-port');
    const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^mqiot_platform_readings_total 0$/m);

    // the store is PostgreSQL: the admin the first start created is in the test schema
    const users = await admin.query(`SELECT username FROM ${schema}.users`);
    assert.deepEqual(
      users.rows.map((r: { username: string }) => r.username),
      ['admin'],
    );

    // a gateway's birth is answered by a heartbeat that carries the period given
    const gw = await mqtt.connectAsync(`ws://127.0.0.1:${wsPort}/mqtt`, {
      clientId: 'mqiot-gw-flags-gw',
      reconnectPeriod: 0,
    });
    t.after(() => gw.end(true));
    const heartbeats: number[] = [];
    gw.on('message', (_topic, payload) => {
      const e = decodeEnvelope(payload);
      if (e.k === 'heartbeat' && e.interval !== undefined) heartbeats.push(e.interval);
    });
    await gw.subscribeAsync('mqiot/gw/flags-gw/down', { qos: 1 });
    await gw.publishAsync(
      'mqiot/gw/flags-gw/up',
      encodeEnvelope({ v: 1, k: 'birth', gw: 'flags-gw', seq: 1, ts: Date.now(), epoch: 'e1', devices: [] }),
      { qos: 1 },
    );
    await waitFor('a heartbeat after the birth', () => heartbeats.length > 0, 20_000);
    assert.equal(heartbeats[0], 4321);

    // a status query nobody answers times out after --query-timeout-ms, not 30 s (three timeouts: failed)
    const token = await login(`http://127.0.0.1:${httpPort}`, 'admin', ADMIN_PASSWORD);
    const sent = await fetch(`http://127.0.0.1:${httpPort}/api/gateways/flags-gw/queries`, {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(sent.status, 202, await sent.clone().text());
    const { id } = (await sent.json()) as { id: string };
    const started = Date.now();
    let state = '';
    await waitFor(
      () => `the query to fail after its timeouts (state ${state})`,
      async () => {
        const res = await fetch(`http://127.0.0.1:${httpPort}/api/commands/${id}`, {
          headers: bearer(token),
        });
        state = ((await res.json()) as { state: string }).state;
        return state === 'failed';
      },
      25_000,
    );
    // three 600 ms timers; 30 s ones would take 90 s
    assert.ok(Date.now() - started < 25_000);

    assert.equal(await edge.stop(), 0, edge.stderr());
  });
});
