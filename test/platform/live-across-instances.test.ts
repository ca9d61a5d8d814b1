// Live updates across instances: two platform instances share a gateway's uplinks through a shared
// subscription on Debian's Mosquitto; the live stream (/api/stream) of one shows the telemetry both
// processed, each frame once, and the command changes made on the other.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import { startPlatformApp, type PlatformApp } from '../../src/app/platform-app.ts';
import { encodeEnvelope, type Envelope } from '../../src/protocol/envelope.ts';
import { toyFrame, toySource } from './helpers.ts';
import { bearer, testToken } from '../support/auth.ts';
import { Mosquitto } from '../support/mosquitto.ts';
import { connectClient } from '../support/mqtt.ts';
import { waitFor } from '../support/wait.ts';

interface SseEvent {
  type: string;
  data: Record<string, unknown>;
}

/** Reads an event stream in the background; `events` grows as they come. */
async function openStream(baseUrl: string, token: string) {
  const controller = new AbortController();
  const res = await fetch(`${baseUrl}/api/stream`, { signal: controller.signal, headers: bearer(token) });
  assert.equal(res.status, 200);
  const events: SseEvent[] = [];
  const reader = res.body!.getReader();
  let text = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += Buffer.from(value).toString();
        let end: number;
        while ((end = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type && data) events.push({ type, data: JSON.parse(data) as Record<string, unknown> });
        }
      }
    } catch {
      // aborted at the end of the test
    }
  })();
  return { events, close: () => controller.abort() };
}

describe('live updates: the stream of one instance shows what every instance processed', () => {
  let mosquitto: Mosquitto;
  let dir: string;
  let a: PlatformApp;
  let b: PlatformApp;
  let gateway: MqttClient;
  const processed = { a: 0, b: 0 };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mqiot-live-'));
    mosquitto = await Mosquitto.start();
    const start = (name: string) =>
      startPlatformApp({
        dataDir: dir,
        contractSource: toySource,
        config: { tickMs: 50 },
        http: { host: '127.0.0.1', port: 0 },
        mqtt: { url: mosquitto.url, clientId: `mqiot-platform-${name}`, shareGroup: 'platform' },
      });
    a = await start('a');
    b = await start('b');
    a.platform.subscribe((n) => n.type === 'telemetry' && processed.a++);
    b.platform.subscribe((n) => n.type === 'telemetry' && processed.b++);
    gateway = await connectClient(mosquitto.url, { clientId: 'mqiot-gw-live', protocolVersion: 5 });
  });

  after(async () => {
    await gateway?.endAsync();
    await a?.close();
    await b?.close();
    await mosquitto?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const up = (e: Envelope) => gateway.publishAsync('mqiot/gw/live/up', encodeEnvelope(e), { qos: 1 });

  it('telemetry processed by either instance reaches the stream of instance a, each frame once', async () => {
    const stream = await openStream(a.url!, await testToken(a.store, 'viewer'));
    try {
      await up({ v: 1, k: 'birth', gw: 'live', seq: 1, ts: Date.now(), epoch: 'e', devices: [] });
      for (let g = 0; g < 20; g++) {
        const now = Date.now();
        await up({
          v: 1,
          k: 'data',
          gw: 'live',
          seq: 2 + g,
          ts: now,
          frames: [{ dev: 'l-1', c: 'toy-temp', ts: now, seq: g, raw: toyFrame(0xa1, g) }],
        });
      }
      const telemetry = () => stream.events.filter((e) => e.type === 'telemetry');
      await waitFor(
        () =>
          `20 frames on a's stream (a processed ${processed.a}, b ${processed.b}; got ${telemetry().length})`,
        () => new Set(telemetry().map((e) => e.data.seq)).size === 20,
        30_000,
      );
      assert.ok(processed.b > 0, `instance b processed some of them (${processed.b}), so they were relayed`);
      // a command created on b shows up on a's stream (b's own notification, relayed)
      const record = await b.platform.commandService.sendCommand({
        deviceId: 'l-1',
        action: 'set',
        params: { value: 1 },
      });
      await waitFor(`command ${record.id} on a's stream`, () =>
        stream.events.some((e) => e.type === 'command' && e.data.id === record.id),
      );
      // sentinel: an event b records after the frames; once it is on a's stream, nothing is in flight
      await b.platform.recordEvent('sentinel', 'device', 'l-1', Date.now());
      await waitFor('the sentinel on a stream', () =>
        stream.events.some((e) => e.type === 'event' && e.data.kind === 'sentinel'),
      );
      const seqs = telemetry().map((e) => e.data.seq);
      assert.equal(seqs.length, 20, `each frame once on the stream (${seqs.join(',')})`);
    } finally {
      stream.close();
    }
  });
});
