// A small real site for the dashboard tests: the broker in process on a loopback port, the platform
// attached to it with SQLite in a temporary directory and its HTTP API (with the dashboard) on port 0,
// and an MQTT.js client standing in for a gateway that publishes births and data groups of real
// frames, answers commands for the devices it is told to and answers every status query.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatformApp, type PlatformApp } from '../../src/app/platform-app.ts';
import {
  decodeEnvelope,
  encodeEnvelope,
  type DeviceInfo,
  type Envelope,
  type Frame,
} from '../../src/protocol/envelope.ts';
import { TcpBroker } from '../support/broker.ts';
import { connectGateway } from '../support/mqtt.ts';
import type { Page } from 'playwright-core';
import type { Role } from '../../src/platform/auth/roles.ts';
import { SESSION_COOKIE } from '../../src/platform/http/auth/request-checks.ts';
import { bearer, testToken } from '../support/auth.ts';

export const GATEWAY_ID = 'site-web';

export const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (bytes: number[]) => bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');

/** DL/T 645-2007 read response, forward active energy (DI 00 01 00 00), `hundredths` of a kWh. */
export function dltEnergyFrame(hundredths: number): string {
  const bcd = String(hundredths).padStart(8, '0');
  const data = [0, 1, 2, 3].map((i) => parseInt(bcd.slice(6 - 2 * i, 8 - 2 * i), 16) + 0x33);
  const body = [0x68, 0x61, 0x01, 0, 0, 0, 0, 0x68, 0x91, 0x08, 0x33, 0x33, 0x34, 0x33, ...data];
  const cs = body.reduce((a, b) => a + b, 0) & 0xff;
  return toHex([...body, cs, 0x16]);
}

/** Modbus TCP read-holding-registers response with two registers. */
export function modbusTcpFrame(transaction: number, r0: number, r1: number): string {
  return toHex([
    transaction >> 8,
    transaction & 0xff,
    0,
    0,
    0,
    7,
    1,
    3,
    4,
    r0 >> 8,
    r0 & 0xff,
    r1 >> 8,
    r1 & 0xff,
  ]);
}

export interface Site {
  app: PlatformApp;
  url: string;
  birth(devices: DeviceInfo[]): Promise<void>;
  data(frames: Omit<Frame, 'seq'>[]): Promise<void>;
  report(report: Record<string, unknown>): Promise<void>;
  /** Devices whose commands the gateway answers with ok (others get no answer). */
  answers: Set<string>;
  /** An admin API token. */
  token: string;
  /** Gives the page's browser context a session cookie for a user of `role` (without the sign-in page). */
  signIn(page: Page, role?: Role): Promise<void>;
  api(path: string, init?: { method?: string; json?: unknown }): Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  close(): Promise<void>;
}

export async function startSite(): Promise<Site> {
  const dir = mkdtempSync(join(tmpdir(), 'mqiot-web-'));
  const tcp = await TcpBroker.start();
  const app = await startPlatformApp({
    dataDir: dir,
    broker: tcp.broker,
    http: { host: '127.0.0.1', port: 0 },
    config: { commandTimeoutMs: 300, queryTimeoutMs: 300, tickMs: 50, gatewayValidIntervalMs: 60_000 },
    announce: () => undefined,
  });
  const gateway = await connectGateway(tcp.url, GATEWAY_ID);
  let seq = 0;
  const frameSeq = new Map<string, number>();
  const up = (envelope: Envelope) =>
    gateway.publishAsync(`mqiot/gw/${GATEWAY_ID}/up`, encodeEnvelope(envelope), { qos: 1 });
  const answers = new Set<string>();
  gateway.on('message', (_topic, payload) => {
    const e = decodeEnvelope(payload);
    if (e.k === 'query') {
      void up({
        v: 1,
        k: 'status',
        gw: GATEWAY_ID,
        seq: ++seq,
        ts: Date.now(),
        id: e.id,
        complete: true,
        status: { devices: e.devs ?? [], queue: 0 },
      });
      return;
    }
    if (e.k !== 'cmd' || !answers.has(e.dev)) return;
    void up({
      v: 1,
      k: 'cmd-result',
      gw: GATEWAY_ID,
      seq: ++seq,
      ts: Date.now(),
      id: e.id,
      dev: e.dev,
      ok: true,
      result: { written: e.params },
    });
  });
  const url = app.url!;
  const token = await testToken(app.store, 'admin');
  return {
    app,
    url,
    answers,
    token,
    async signIn(page, role = 'admin') {
      const session = role === 'admin' ? token : await testToken(app.store, role);
      await page.context().addCookies([{ name: SESSION_COOKIE, value: session, url }]);
    },
    async birth(devices) {
      await up({ v: 1, k: 'birth', gw: GATEWAY_ID, seq: ++seq, ts: Date.now(), epoch: 'web-ep1', devices });
    },
    async data(frames) {
      await up({
        v: 1,
        k: 'data',
        gw: GATEWAY_ID,
        seq: ++seq,
        ts: Date.now(),
        frames: frames.map((f) => {
          const n = frameSeq.get(f.dev) ?? 0;
          frameSeq.set(f.dev, n + 1);
          return { ...f, seq: n };
        }),
      });
    },
    async report(report) {
      await up({ v: 1, k: 'report', gw: GATEWAY_ID, seq: ++seq, ts: Date.now(), report });
    },
    async api(path, init = {}) {
      const res = await fetch(`${url}${path}`, {
        method: init.method ?? 'GET',
        headers: {
          ...bearer(token),
          ...(init.json === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: init.json === undefined ? undefined : JSON.stringify(init.json),
      });
      return { status: res.status, body: await res.json() };
    },
    async close() {
      gateway.end(true);
      await app.close();
      await tcp.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
