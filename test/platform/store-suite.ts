// One contract suite for every PlatformStore implementation (SQLite and PostgreSQL run the same tests).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PlatformStore, ReadingInput } from '../../src/platform/store/index.ts';
import { CommandState } from '../../src/platform/store/types.ts';

export interface StoreHandle {
  store: PlatformStore;
  cleanup(): Promise<void>;
}

const T0 = Date.UTC(2026, 0, 1);

function reading(over: Partial<ReadingInput> & { seq: number }): ReadingInput {
  return {
    gatewayId: 'gw-1',
    groupSeq: over.seq,
    frameIndex: 0,
    deviceId: 'meter-1',
    ts: T0 + over.seq * 1000,
    receivedAt: T0 + over.seq * 1000 + 5,
    contractId: 'dlt645-2007',
    raw: Uint8Array.from([0x68, over.seq & 0xff, 0x16]),
    points: [
      { name: 'energy', value: 100 + over.seq, unit: 'kWh' },
      { name: 'relay', value: over.seq % 2 === 0 },
    ],
    ...over,
  };
}

export function runStoreSuite(name: string, open: () => Promise<StoreHandle>): void {
  describe(`PlatformStore contract: ${name}`, () => {
    let handle: StoreHandle;
    let store: PlatformStore;
    before(async () => {
      handle = await open();
      store = handle.store;
    });
    after(async () => handle.cleanup());

    it('stores each reading once, even when the gateway resends the data group', async () => {
      const batch = [1, 2, 3].map((seq) => reading({ seq }));
      assert.equal(await store.insertReadings(batch), 3);
      assert.equal(await store.insertReadings(batch), 0);
      assert.equal(await store.countPoints('meter-1'), 6);
      // A new epoch (the gateway's store was replaced) restarts the group seq: those are new readings.
      assert.equal(await store.insertReadings([reading({ seq: 1, epoch: 'e2', ts: T0 + 500 })]), 1);
      assert.equal(await store.countPoints('meter-1'), 8);
    });

    it('answers latest values with units and typed values', async () => {
      const latest = await store.latest('meter-1');
      assert.deepEqual(
        latest.map((p) => [p.name, p.value, p.unit, p.ts]),
        [
          ['energy', 103, 'kWh', T0 + 3000],
          ['relay', false, null, T0 + 3000],
        ],
      );
      // An older reading arriving late does not replace a newer latest value.
      await store.insertReadings([reading({ seq: 0 })]);
      assert.equal((await store.latest('meter-1')).find((p) => p.name === 'energy')?.value, 103);
    });

    it('answers a raw range for one point and for all points', async () => {
      const energy = await store.range({
        deviceId: 'meter-1',
        point: 'energy',
        from: T0 + 1000,
        to: T0 + 3000,
      });
      assert.deepEqual(
        energy.map((p) => p.value),
        [101, 102],
      );
      const all = await store.range({ deviceId: 'meter-1', from: T0, to: T0 + 10_000, limit: 3 });
      assert.equal(all.length, 3);
    });

    it('keeps a frame that failed to decode, with its error', async () => {
      const bad = reading({ seq: 10, points: [], error: { offset: 3, reason: 'checksum mismatch' } });
      assert.equal(await store.insertReadings([bad]), 1);
      const frames = await store.frames({ deviceId: 'meter-1', errorsOnly: true });
      assert.equal(frames.length, 1);
      assert.equal(frames[0]?.ok, false);
      assert.deepEqual(frames[0]?.error, { offset: 3, reason: 'checksum mismatch' });
      assert.equal(frames[0]?.rawHex, '680a16');
    });

    it('aggregates min/max/avg/last per bucket in SQL', async () => {
      const rows: ReadingInput[] = [];
      // 60 readings, one per second, values 0..59 on device agg-1.
      for (let i = 0; i < 60; i++) {
        rows.push(
          reading({
            seq: 1000 + i,
            deviceId: 'agg-1',
            ts: T0 + i * 1000,
            points: [{ name: 't', value: i, unit: '°C' }],
          }),
        );
      }
      assert.equal(await store.insertReadings(rows), 60);
      const buckets = await store.aggregate({
        deviceId: 'agg-1',
        point: 't',
        from: T0,
        to: T0 + 60_000,
        bucketMs: 20_000,
      });
      assert.deepEqual(buckets, [
        { start: T0, count: 20, min: 0, max: 19, avg: 9.5, last: 19 },
        { start: T0 + 20_000, count: 20, min: 20, max: 39, avg: 29.5, last: 39 },
        { start: T0 + 40_000, count: 20, min: 40, max: 59, avg: 49.5, last: 59 },
      ]);
    });

    it('aggregates whole-minute buckets from rollups plus raw edges, equal to computing from the readings', async () => {
      const rows: ReadingInput[] = [];
      for (let i = 0; i < 300; i++) {
        const value = Math.round(Math.sin(i / 7) * 1000) / 10;
        rows.push(
          reading({
            seq: 5000 + i,
            deviceId: 'roll-1',
            ts: T0 + i * 700,
            points: [{ name: 'p', value, unit: 'kW' }],
          }),
        );
      }
      await store.insertReadings(rows.slice(0, 150));
      await store.insertReadings(rows.slice(100)); // overlapping resend: rollups must not count twice
      const from = T0 + 13_000;
      const to = T0 + 200_500;
      const buckets = await store.aggregate({ deviceId: 'roll-1', point: 'p', from, to, bucketMs: 120_000 });
      const expected = new Map<number, number[]>();
      for (const r of rows) {
        if (r.ts < from || r.ts >= to) continue;
        const start = T0 + Math.floor((r.ts - T0) / 120_000) * 120_000; // grid on whole minutes
        expected.set(start, [...(expected.get(start) ?? []), r.points[0]!.value as number]);
      }
      assert.deepEqual(
        buckets.map((b) => [b.start, b.count, b.min, b.max, b.last]),
        [...expected].map(([start, v]) => [start, v.length, Math.min(...v), Math.max(...v), v.at(-1)]),
      );
      for (const b of buckets) {
        const v = expected.get(b.start)!;
        assert.ok(Math.abs(b.avg - v.reduce((x, y) => x + y, 0) / v.length) < 1e-9);
      }
    });

    it('exports a range as CSV with quoting', async () => {
      await store.insertReadings([
        reading({ seq: 2000, deviceId: 'csv-1', ts: T0, points: [{ name: 'label', value: 'a,"b"' }] }),
      ]);
      const csv = await store.exportCsv({ deviceId: 'csv-1', from: T0, to: T0 + 1 });
      assert.equal(
        csv,
        `device,point,time,value,unit\ncsv-1,label,${new Date(T0).toISOString()},"a,""b""",\n`,
      );
    });

    it('deletes readings older than the retention limit', async () => {
      await store.insertReadings([reading({ seq: 3000, deviceId: 'old-1', ts: T0 - 86_400_000 })]);
      const deleted = await store.deleteReadingsBefore(T0 - 1);
      assert.equal(deleted, 2);
      assert.equal(await store.countPoints('old-1'), 0);
      assert.equal(await store.countPoints('agg-1'), 60);
    });

    it('registers gateways and devices once, with asset data and lifecycle', async () => {
      assert.equal(await store.ensureGateway('gw-1', T0), true);
      assert.equal(await store.ensureGateway('gw-1', T0 + 1), false);
      assert.equal(
        await store.ensureDevice(
          { id: 'meter-1', gatewayId: 'gw-1', contractId: 'dlt645-2007', pollMs: 5000 },
          T0,
        ),
        true,
      );
      assert.equal(
        await store.ensureDevice({ id: 'meter-1', gatewayId: 'gw-1', contractId: 'x' }, T0),
        false,
      );
      await store.ensureDevice({ id: 'tlv-7', gatewayId: 'gw-1', contractId: 'vendor-tlv' }, T0);
      const updated = await store.updateDeviceAsset(
        'meter-1',
        {
          name: 'Main meter',
          location: 'Basement',
          tags: ['energy', 'main'],
          attributes: { floor: -1 },
          lifecycle: 'disabled',
          installDate: '2025-05-01',
        },
        T0 + 10,
      );
      assert.equal(updated?.name, 'Main meter');
      assert.deepEqual(updated?.tags, ['energy', 'main']);
      assert.deepEqual(updated?.attributes, { floor: -1 });
      assert.equal(updated?.lifecycle, 'disabled');
      assert.equal(updated?.contractId, 'dlt645-2007');
      assert.equal(updated?.pollMs, 5000);
      assert.equal(await store.updateDeviceAsset('nope', { name: 'x' }, T0), undefined);

      const byTag = await store.listDevices({ tag: 'main' });
      assert.deepEqual(
        byTag.items.map((d) => d.id),
        ['meter-1'],
      );
      const page = await store.listDevices({ gatewayId: 'gw-1', limit: 1, offset: 1 });
      assert.equal(page.total, 2);
      assert.deepEqual(
        page.items.map((d) => d.id),
        ['tlv-7'],
      );
      assert.equal((await store.listDevices({ search: 'basement' })).total, 1);
      assert.equal((await store.listDevices({ lifecycle: 'active' })).total, 1);

      const gw = await store.updateGatewayAsset('gw-1', { location: 'Site A' }, T0 + 20);
      assert.equal(gw?.location, 'Site A');
    });

    it('tracks online state and last communication', async () => {
      await store.touchGateway('gw-1', T0 + 500);
      await store.touchGateway('gw-1', T0 + 100); // older news does not move last_seen back
      await store.setGatewayOnline('gw-1', true, T0 + 500);
      const gw = await store.getGateway('gw-1');
      assert.equal(gw?.online, true);
      assert.equal(gw?.lastSeen, T0 + 500);
      assert.equal(gw?.onlineChangedAt, T0 + 500);
      await store.touchDevices(['meter-1', 'meter-1'], T0 + 600);
      await store.setDeviceOnline('meter-1', true, T0 + 600);
      assert.equal((await store.listDevices({ online: true })).total, 1);
    });

    it('keeps events, newest first, filterable', async () => {
      await store.addEvent({
        ts: T0 + 1,
        kind: 'online',
        subjectType: 'gateway',
        subjectId: 'gw-1',
        detail: {},
      });
      const e = await store.addEvent({
        ts: T0 + 2,
        kind: 'offline',
        subjectType: 'gateway',
        subjectId: 'gw-1',
        detail: { reason: 'will' },
      });
      assert.ok(e.id > 0);
      const events = await store.listEvents({ subjectId: 'gw-1' });
      assert.deepEqual(
        events.map((x) => x.kind),
        ['offline', 'online'],
      );
      assert.deepEqual(events[0]?.detail, { reason: 'will' });
      assert.equal((await store.listEvents({ kind: 'online', from: T0 + 1, to: T0 + 2 })).length, 1);
    });

    it('saves command history and updates it in place', async () => {
      const base = {
        id: 'c-1',
        kind: 'command' as const,
        gatewayId: 'gw-1',
        deviceId: 'meter-1',
        action: 'relay',
        params: { on: true },
        state: CommandState.Pending,
        attempts: 0,
        createdAt: T0,
        updatedAt: T0,
        result: null,
        error: null,
        history: [{ state: CommandState.Pending, at: T0 }],
      };
      await store.saveCommand(base);
      await store.saveCommand({
        ...base,
        state: CommandState.Executed,
        attempts: 1,
        updatedAt: T0 + 50,
        result: { relay: 'on' },
        history: [
          ...base.history,
          { state: CommandState.Sent, at: T0 + 1, attempt: 1 },
          { state: CommandState.Executed, at: T0 + 50 },
        ],
      });
      const saved = await store.getCommand('c-1');
      assert.equal(saved?.state, 'executed');
      assert.deepEqual(saved?.result, { relay: 'on' });
      assert.equal(saved?.history.length, 3);
      assert.equal((await store.listCommands({ deviceId: 'meter-1', state: 'executed' })).length, 1);
      assert.equal(await store.getCommand('missing'), undefined);
    });

    it('stores each periodic report once', async () => {
      const report = {
        gatewayId: 'gw-1',
        epoch: 'e1',
        seq: 7,
        ts: T0,
        receivedAt: T0 + 1,
        body: { uptime: 12 },
      };
      assert.equal(await store.saveReport(report), true);
      assert.equal(await store.saveReport(report), false);
      assert.equal(await store.saveReport({ ...report, epoch: 'e2' }), true);
      assert.deepEqual((await store.listReports('gw-1')).map((r) => [r.epoch, r.body]).sort(), [
        ['e1', { uptime: 12 }],
        ['e2', { uptime: 12 }],
      ]);
    });

    it('keeps contract versions and settings', async () => {
      await store.saveContractVersion({ id: 'vendor-tlv', version: '1.0.0', source: 'a', createdAt: T0 });
      await store.saveContractVersion({ id: 'vendor-tlv', version: '1.1.0', source: 'b', createdAt: T0 + 1 });
      assert.deepEqual(
        (await store.listContractVersions('vendor-tlv')).map((c) => c.version),
        ['1.0.0', '1.1.0'],
      );
      await store.setSetting('retentionDays', '30');
      await store.setSetting('retentionDays', '90');
      assert.equal(await store.getSetting('retentionDays'), '90');
      assert.equal(await store.getSetting('nope'), undefined);
    });

    it('keeps every reading of many small batches, in time order, as small blocks are merged', async () => {
      // one reading per batch, the 50th arriving late (before the 40th): merges keep the order and units
      const order = [...Array.from({ length: 100 }, (_, i) => i).filter((i) => i !== 50)];
      order.splice(40, 0, 50);
      for (const i of order) {
        const value = i % 10 === 0 ? `s${i}` : i;
        await store.insertReadings([
          reading({
            seq: 20_000 + i,
            deviceId: 'small-1',
            ts: T0 + i * 1000,
            points: [{ name: 'p', value, ...(i % 2 ? { unit: 'kW' } : {}) }],
          }),
        ]);
      }
      assert.equal(await store.countPoints('small-1'), 100);
      const got = await store.range({ deviceId: 'small-1', point: 'p', from: T0, to: T0 + 100_000 });
      assert.deepEqual(
        got.map((p) => [p.ts, p.value, p.unit]),
        Array.from({ length: 100 }, (_, i) => [
          T0 + i * 1000,
          i % 10 === 0 ? `s${i}` : i,
          i % 2 ? 'kW' : null,
        ]),
      );
      const [minute] = await store.aggregate({
        deviceId: 'small-1',
        point: 'p',
        from: T0,
        to: T0 + 60_000,
        bucketMs: 60_000,
      });
      const numbers = Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 10 !== 0);
      assert.deepEqual(minute, {
        start: T0,
        count: numbers.length,
        min: 1,
        max: 59,
        avg: numbers.reduce((a, b) => a + b, 0) / numbers.length,
        last: 59,
      });
      // a resend of any of those groups adds nothing
      assert.equal(
        await store.insertReadings([reading({ seq: 20_050, deviceId: 'small-1', ts: T0 + 50_000 })]),
        0,
      );
      assert.equal(await store.countPoints('small-1'), 100);
    });

    it('ingests a large batch in one transaction', async () => {
      const rows: ReadingInput[] = [];
      for (let i = 0; i < 5000; i++) rows.push(reading({ seq: 10_000 + i, deviceId: `bulk-${i % 10}` }));
      assert.equal(await store.insertReadings(rows), 5000);
      assert.equal(await store.countPoints('bulk-3'), 1000);
    });
  });
}
