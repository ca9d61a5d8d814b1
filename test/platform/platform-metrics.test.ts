// Platform metrics scraped over real HTTP: on the broker's metrics listener of the all-in-one (`mqiot
// up`, `mqiot cloud` with its own broker) and on the platform's own listener (`mqiot cloud --broker`),
// after a gateway published over real MQTT. Plus the text format of the small registry behind them.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { Listener } from '../../src/broker/server/index.ts';
import { loadConfig } from '../../src/app/config/index.ts';
import { createLogger } from '../../src/log.ts';
import { startAllInOne, type AllInOne } from '../../src/app/all-in-one.ts';
import { startPlatformApp, type PlatformApp } from '../../src/app/platform-app.ts';
import { listenPlatformMetrics } from '../../src/app/metrics-listener.ts';
import { PlatformMetrics } from '../../src/platform/metrics/platform-metrics.ts';
import { encodeEnvelope, type Envelope } from '../../src/protocol/envelope.ts';
import { logLines, runCli, type RunningCli } from '../support/cli.ts';
import { freePort } from '../support/ports.ts';
import { ContractRegistry } from '../../src/platform/contract-registry.ts';
import { Platform } from '../../src/platform/platform.ts';
import { tempStore, toyFrame, toySource, withInsertReadings } from './helpers.ts';
import { TcpBroker } from '../support/broker.ts';
import { connectGateway } from '../support/mqtt.ts';
import { PROCESS_START_MS, waitFor } from '../support/wait.ts';
import { mosquittoHashing } from '../../src/app/secret-hashing.ts';

const DLT_ENERGY = Buffer.from('6861010000000068910833333433593333338a16', 'hex');
const silent = createLogger({ level: 'silent' });

/** Metric samples of a Prometheus text page: `name{labels}` → value; fails on a malformed line. */
function parse(page: string): Map<string, number> {
  const samples = new Map<string, number>();
  const declared = new Set<string>();
  for (const line of page.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/.exec(line);
    if (meta) {
      // each metric is described once per page, even when two components fill it
      assert.ok(!declared.has(`${meta[1]} ${meta[2]}`), `${meta[2]} declared twice`);
      declared.add(`${meta[1]} ${meta[2]}`);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(sample, `not a Prometheus sample line: ${line}`);
    samples.set(sample[1]!, Number(sample[2]));
  }
  return samples;
}

async function scrape(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parse(await res.text());
}

/** Birth, a data group of two frames (one no contract decodes), its resend, and two messages refused whole. */
async function publishTraffic(gateway: MqttClient, gw: string): Promise<void> {
  const up = (e: Envelope | Buffer) =>
    gateway.publishAsync(`mqiot/gw/${gw}/up`, Buffer.isBuffer(e) ? e : encodeEnvelope(e), { qos: 1 });
  const now = Date.now();
  await up({
    v: 1,
    k: 'birth',
    gw,
    seq: 1,
    ts: now,
    epoch: 'e1',
    devices: [{ dev: `${gw}-m`, c: 'dlt645-2007' }],
  });
  const data: Envelope = {
    v: 1,
    k: 'data',
    gw,
    seq: 2,
    ts: now,
    frames: [
      { dev: `${gw}-m`, c: 'dlt645-2007', ts: now, seq: 0, raw: DLT_ENERGY },
      { dev: `${gw}-x`, c: 'nobody', ts: now, seq: 0, raw: Buffer.from([1, 2, 3]) },
    ],
  };
  await up(data);
  await up(data); // a resend: applied once, its frames counted as duplicates
  await up(Buffer.from([0xa1, 0x61, 0x76])); // truncated CBOR
  await up({ ...data, gw: 'someone-else', seq: 3 }); // names another gateway than its topic
}

describe('platform metrics on the all-in-one metrics listener', () => {
  let dir: string;
  let system: AllInOne;
  let gateway: MqttClient;
  let metricsPort: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-metrics-'));
    const config = loadConfig({
      env: {},
      overrides: {
        broker: { host: '127.0.0.1', port: 0, wsPort: null, metricsPort: 0, sys: { interval: 0 } },
      },
    });
    system = await startAllInOne({
      broker: config.broker,
      dataDir: dir,
      http: { host: '127.0.0.1', port: 0 },
      platform: { commandTimeoutMs: 60_000 },
      logger: silent,
    });
    metricsPort = system.listeners.find((l) => l.transport === 'metrics')!.port;
    gateway = await connectGateway(system.mqttUrl, 'gw-m');
  });

  after(async () => {
    await gateway?.endAsync();
    await system?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts at zero next to the broker metrics', async () => {
    const m = await scrape(metricsPort);
    assert.equal(m.get('mqiot_platform_readings_total'), 0);
    assert.equal(m.get('mqiot_platform_frames_rejected_total{reason="duplicate"}'), 0);
    assert.equal(m.get('mqiot_platform_batch_commit_seconds_count'), 0);
    assert.equal(m.get('mqiot_platform_ingest_queue_depth'), 0);
    assert.ok(m.has('mqiot_clients_connected'), 'the broker metrics are still there');
  });

  it('counts readings, rejections, commits, online gateways and pending commands', async () => {
    await publishTraffic(gateway, 'gw-m');
    await waitFor('the readings', async () => (await system.app.store.countPoints('gw-m-m')) === 1);
    await system.app.platform.commandService.sendCommand({
      deviceId: 'gw-m-m',
      action: 'read',
      params: { di: '00010000' },
    });
    const m = await waitFor('the counters', async () => {
      const page = await scrape(metricsPort);
      return page.get('mqiot_platform_readings_total') === 2 && page;
    });
    assert.equal(m.get('mqiot_platform_frames_rejected_total{reason="unknown-contract"}'), 1);
    assert.equal(m.get('mqiot_platform_frames_rejected_total{reason="decode-error"}'), 0);
    assert.equal(m.get('mqiot_platform_frames_rejected_total{reason="duplicate"}'), 2);
    assert.equal(m.get('mqiot_platform_frames_rejected_total{reason="not-stored"}'), 0);
    assert.equal(m.get('mqiot_platform_uplinks_rejected_total{reason="invalid-envelope"}'), 1);
    assert.equal(m.get('mqiot_platform_uplinks_rejected_total{reason="foreign-gateway"}'), 1);
    assert.equal(m.get('mqiot_platform_batch_commit_seconds_count'), 1);
    assert.equal(m.get('mqiot_platform_batch_commit_seconds_bucket{le="+Inf"}'), 1);
    assert.ok(m.get('mqiot_platform_batch_commit_seconds_sum')! > 0);
    assert.equal(m.get('mqiot_platform_gateways_online'), 1);
    assert.ok(m.get('mqiot_platform_devices_online')! >= 1);
    assert.equal(m.get('mqiot_platform_commands_pending'), 1);
    assert.equal(m.get('mqiot_platform_ingest_queue_depth'), 0);
  });
});

describe('platform metrics of mqiot cloud on an external broker', () => {
  let dir: string;
  let broker: TcpBroker;
  let app: PlatformApp;
  let listener: Listener;
  let gateway: MqttClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-metrics-cloud-'));
    broker = await TcpBroker.start();
    app = await startPlatformApp({ dataDir: dir, mqtt: { url: broker.url, clientId: 'mqiot-platform-m' } });
    listener = await listenPlatformMetrics(app.platform.metrics, '127.0.0.1', 0, silent);
    gateway = await connectGateway(broker.url, 'gw-c');
  });

  after(async () => {
    await gateway?.endAsync();
    listener?.stopAccepting();
    await listener?.drain(0);
    await app?.close();
    await broker?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the platform metrics with the process figures', async () => {
    await publishTraffic(gateway, 'gw-c');
    // The broker acknowledges here, not the platform: wait until the last message was taken in (an
    // uplink refused for good is counted when taken up, maybe before the data in front of it is
    // committed) and the data stored.
    const m = await waitFor('the readings', async () => {
      const page = await scrape(listener.port);
      const last = page.get('mqiot_platform_uplinks_rejected_total{reason="foreign-gateway"}') === 1;
      return last && page.get('mqiot_platform_readings_total') === 2 && page;
    });
    assert.equal(m.get('mqiot_platform_readings_total'), 2);
    assert.equal(m.get('mqiot_platform_uplinks_rejected_total{reason="invalid-envelope"}'), 1);
    assert.equal(m.get('mqiot_platform_gateways_online'), 1);
    assert.ok(m.get('process_resident_memory_bytes')! > 0);
    assert.ok(!m.has('mqiot_clients_connected'), 'no broker of its own');
  });
});

describe('mqiot cloud --broker URL --metrics-port PORT (CLI, black box)', () => {
  let dir: string;
  let broker: TcpBroker;
  let cli: RunningCli;
  let gateway: MqttClient;

  after(async () => {
    await gateway?.endAsync();
    await cli?.kill();
    await broker?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the platform metrics on the given port and stops on SIGTERM', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-metrics-cli-'));
    broker = await TcpBroker.start();
    const port = await freePort();
    cli = runCli([
      'cloud',
      ...['--broker', broker.url, '--data-dir', dir, '--http-port', '0', '--metrics-port', String(port)],
    ]);
    const running = await waitFor(
      'mqiot cloud running',
      () => logLines(cli.stdout()).find((l) => l.msg === 'mqiot cloud: running'),
      PROCESS_START_MS,
    );
    assert.equal(running.metricsPort, port);
    gateway = await connectGateway(broker.url, 'gw-cli');
    await publishTraffic(gateway, 'gw-cli');
    // An uplink refused for good is counted when the platform takes it up, which may be before the
    // data in front of it is committed: wait for both.
    const m = await waitFor('the last message taken in and the data stored', async () => {
      const page = await scrape(port);
      return (
        page.get('mqiot_platform_uplinks_rejected_total{reason="foreign-gateway"}') === 1 &&
        page.get('mqiot_platform_readings_total') === 2 &&
        page
      );
    });
    assert.equal(m.get('mqiot_platform_readings_total'), 2);
    assert.equal(await cli.stop(), 0);
  });
});

describe('platform metrics when the store keeps failing', () => {
  it('counts the frames of a data group that could not be stored as not-stored', async () => {
    const { store, cleanup } = await tempStore();
    try {
      const failing = withInsertReadings(store, () => Promise.reject(new Error('disk I/O error (injected)')));
      const contracts = new ContractRegistry(store, toySource);
      await contracts.load();
      const platform = new Platform(
        { ingestRetries: 1, ingestRetryMs: 1 },
        { store: failing, contracts, secretHashing: mosquittoHashing },
      );
      await platform.start({ timers: false });
      const now = Date.now();
      const frame = (seq: number) => ({ dev: 't-1', c: 'toy-temp', ts: now, seq, raw: toyFrame(0xa1, 20) });
      const group = encodeEnvelope({
        v: 1,
        k: 'data',
        gw: 'gw-f',
        seq: 1,
        ts: now,
        frames: [frame(0), frame(1)],
      });
      await assert.rejects(platform.handleUplink('mqiot/gw/gw-f/up', group)!, /not stored/);
      const page = parse(await platform.metrics.render());
      assert.equal(page.get('mqiot_platform_frames_rejected_total{reason="not-stored"}'), 2);
      assert.equal(page.get('mqiot_platform_readings_total'), 0);
      await platform.stop();
    } finally {
      await cleanup();
    }
  });
});

describe('platform metrics registries', () => {
  it('each PlatformMetrics has its own registry: two in one process keep their figures apart', async () => {
    const gauges = (n: number) => ({
      ingestQueueDepth: () => n,
      commandsPending: () => 0,
      gatewaysOnline: () => 0,
      devicesOnline: () => 0,
    });
    const a = new PlatformMetrics(gauges(3));
    const b = new PlatformMetrics(gauges(7));
    a.stored([{ reading: {} }, { reading: { error: { reason: 'checksum' } } }], 0.004, 5);
    a.uplinkRejected('seq-window');
    const pageA = parse(await a.render());
    const pageB = parse(await b.render());
    assert.equal(pageA.get('mqiot_platform_readings_total'), 2);
    assert.equal(pageA.get('mqiot_platform_frames_rejected_total{reason="decode-error"}'), 1);
    assert.equal(pageA.get('mqiot_platform_frames_rejected_total{reason="duplicate"}'), 5);
    assert.equal(pageA.get('mqiot_platform_uplinks_rejected_total{reason="seq-window"}'), 1);
    assert.equal(pageA.get('mqiot_platform_batch_commit_seconds_bucket{le="0.005"}'), 1);
    assert.equal(pageA.get('mqiot_platform_batch_commit_seconds_bucket{le="0.0025"}'), 0);
    assert.equal(pageA.get('mqiot_platform_batch_commit_seconds_count'), 1);
    assert.equal(pageA.get('mqiot_platform_ingest_queue_depth'), 3);
    assert.equal(pageB.get('mqiot_platform_readings_total'), 0);
    assert.equal(pageB.get('mqiot_platform_frames_rejected_total{reason="unknown-contract"}'), 0);
    assert.equal(pageB.get('mqiot_platform_ingest_queue_depth'), 7);
    assert.equal(a.readings, 2);
    assert.equal(a.uplinkRejections()['seq-window'], 1);
    assert.equal(a.uplinkRejections()['invalid-envelope'], 0);
  });
});
