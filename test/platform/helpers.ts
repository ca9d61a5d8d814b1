// Shared fixtures for platform tests: a small fake contract source (the real contracts are tested in
// test/contracts), a temporary SQLite store and a downlink that records what the platform publishes.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { decodeEnvelope, type Envelope } from '../../src/protocol/envelope.ts';
import type { Contract } from '../../src/contracts/index.ts';
import type { ContractSource } from '../../src/platform/contract-registry.ts';
import type { Downlink } from '../../src/platform/platform.ts';
import { openPostgresStore, openSqliteStore, type PlatformStore } from '../../src/platform/store/index.ts';

/** Frames `[marker, value, sum]` where sum = marker + value (mod 256): a toy framing with a checksum. */
export function toyContract(
  id: string,
  marker: number,
  point: string,
  unit: string,
  version = '1.0.0',
): Contract {
  const valid = (f: Uint8Array) => f.length === 3 && f[0] === marker && ((f[0]! + f[1]!) & 0xff) === f[2];
  return {
    id,
    version,
    name: `toy ${id}`,
    messages: ['set'],
    decode(frame) {
      if (frame.length < 3)
        return { ok: false, error: { offset: frame.length, reason: 'truncated: need 3 bytes' } };
      if (!valid(frame)) return { ok: false, error: { offset: 2, reason: 'checksum: mismatch' } };
      return {
        ok: true,
        fields: { value: frame[1] },
        points: [{ name: point, value: frame[1]! / 10, unit }],
      };
    },
    encode(_message, params) {
      const v = Number(params.value ?? 0) & 0xff;
      return Uint8Array.from([marker, v, (marker + v) & 0xff]);
    },
    detect: valid,
    split: () => ({ need: 3 }),
    runTests: () => ({ contract: id, passed: 1, failed: 0, cases: [{ name: 'toy', ok: true }] }),
  };
}

export function toyFrame(marker: number, value: number): Uint8Array {
  return Uint8Array.from([marker, value, (marker + value) & 0xff]);
}

/**
 * The store with its insertReadings replaced by `insert`, which gets the real one to call (or not): to
 * hold, fail or count the platform's batches. Every other method is the real store's.
 */
export function withInsertReadings(
  real: PlatformStore,
  insert: (
    realInsert: PlatformStore['insertReadings'],
    ...args: Parameters<PlatformStore['insertReadings']>
  ) => ReturnType<PlatformStore['insertReadings']>,
): PlatformStore {
  const realInsert: PlatformStore['insertReadings'] = (...args) => real.insertReadings(...args);
  return new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'insertReadings')
        return (...args: Parameters<PlatformStore['insertReadings']>) => insert(realInsert, ...args);
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** Built-ins 'toy-temp' (0xA1) and 'toy-hum' (0xB2); uploads are JSON `{ id, version, marker, failTests? }`. */
export const toySource: ContractSource = {
  builtinIds: () => ['toy-temp', 'toy-hum'],
  builtin: (id) =>
    id === 'toy-temp' ? toyContract(id, 0xa1, 'temperature', '°C') : toyContract(id, 0xb2, 'humidity', '%'),
  load(source) {
    const doc = JSON.parse(source) as { id?: string; version?: string; marker?: number; failTests?: boolean };
    if (!doc.id || !doc.version || typeof doc.marker !== 'number')
      throw new Error('id, version and marker are required');
    const contract = toyContract(doc.id, doc.marker, 'value', 'u', doc.version);
    if (doc.failTests)
      contract.runTests = () => ({
        contract: doc.id!,
        passed: 0,
        failed: 1,
        cases: [{ name: 't1', ok: false, message: 'expected 1' }],
      });
    return contract;
  },
};

export async function tempStore(): Promise<{ store: PlatformStore; cleanup(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'mqiot-platform-'));
  const store = await openSqliteStore(join(dir, 'platform.db'));
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The test database's URL (MQIOT_TEST_PG_URL). Without it, registers one test for `what` that fails in
 * CI, where .ci/postgres.sh must have set it (a missing server is a failure there, not a skip), and
 * passes elsewhere; returns undefined then.
 */
export function testPostgresUrl(what: string): string | undefined {
  const url = process.env.MQIOT_TEST_PG_URL;
  if (!url)
    test(`${what} needs MQIOT_TEST_PG_URL`, () => {
      assert.ok(!process.env.CI, `CI is set but MQIOT_TEST_PG_URL is missing: the ${what} cannot run`);
    });
  return url;
}

/** A PostgreSQL store in a fresh schema, which keeps parallel runs and reruns apart; dropped on cleanup. */
export async function tempPostgresStore(
  url: string,
  prefix: string,
): Promise<{ store: PlatformStore; cleanup(): Promise<void> }> {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  const store = await openPostgresStore(url, { schema });
  return {
    store,
    cleanup: async () => {
      await store.close();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP SCHEMA ${schema} CASCADE`);
      await client.end();
    },
  };
}

export class RecordingDownlink implements Downlink {
  readonly messages: { topic: string; payload: Buffer; qos: number }[] = [];
  publish(topic: string, payload: Buffer, options: { qos: 0 | 1 | 2 }): void {
    this.messages.push({ topic, payload, qos: options.qos });
  }
  down(kind?: string): Envelope[] {
    return this.messages
      .filter((m) => m.topic.endsWith('/down'))
      .map((m) => decodeEnvelope(m.payload))
      .filter((e) => !kind || e.k === kind);
  }
  telemetry(): { topic: string; body: Record<string, unknown> }[] {
    return this.messages
      .filter((m) => m.topic.endsWith('/telemetry'))
      .map((m) => ({ topic: m.topic, body: JSON.parse(m.payload.toString()) as Record<string, unknown> }));
  }
}

/** HTTP answers in tests are read loosely; the assertions check their shape and values. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;
