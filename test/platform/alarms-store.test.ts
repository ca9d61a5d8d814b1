// Alarms in the platform store: the same tests on SQLite and on a real PostgreSQL (MQIOT_TEST_PG_URL):
// one active alarm per (originator, type) enforced by the database, updates with history, filters and
// paging, active counts by severity, alarm rules; and a store made before alarms existed gets the tables.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { acknowledge, clear, newAlarm, type RaiseInput } from '../../src/platform/alarms/alarm.ts';
import { openSqliteStore, type PlatformStore } from '../../src/platform/store/index.ts';
import { tempPostgresStore, tempStore, testPostgresUrl } from './helpers.ts';

const T0 = Date.UTC(2026, 0, 1);
const raise = (over: Partial<RaiseInput> = {}): RaiseInput => ({
  originatorType: 'device',
  originatorId: 'meter-1',
  type: 'overheat',
  severity: 'major',
  ruleId: 'hot',
  message: 'Temperature über 40 °C',
  value: 41.5,
  ...over,
});

function alarmsSuite(name: string, open: () => Promise<{ store: PlatformStore; cleanup(): Promise<void> }>) {
  describe(`alarms store: ${name}`, () => {
    let store: PlatformStore;
    let cleanup: () => Promise<void>;
    before(async () => ({ store, cleanup } = await open()));
    after(async () => cleanup());

    it('inserts an alarm and reads it back whole; a second active one for the same key is refused', async () => {
      const created = await store.insertAlarm(newAlarm(raise(), T0));
      assert.ok(created);
      assert.ok(created.id > 0);
      assert.deepEqual(await store.getAlarm(created.id), created);
      assert.deepEqual(await store.getActiveAlarm(raise()), created);
      assert.equal(await store.insertAlarm(newAlarm(raise({ severity: 'critical' }), T0 + 1)), undefined);
      // another type or originator is another alarm; a string value survives too
      assert.ok(await store.insertAlarm(newAlarm(raise({ type: 'other', value: 'tripped' }), T0 + 2)));
      assert.ok(
        await store.insertAlarm(
          newAlarm(
            raise({ originatorType: 'gateway', originatorId: 'gw-a', severity: 'critical', value: null }),
            T0 + 3,
          ),
        ),
      );
      assert.equal(await store.getAlarm(999_999), undefined);
    });

    it('acknowledge and clear are stored with their history; a cleared key takes a new alarm', async () => {
      const alarm = (await store.getActiveAlarm(raise()))!;
      const acked = acknowledge(alarm, 'alice', T0 + 10)!;
      await store.updateAlarm(acked);
      const cleared = clear(acked, 'condition', T0 + 20)!;
      await store.updateAlarm(cleared);
      const back = await store.getAlarm(alarm.id);
      assert.deepEqual(back, cleared);
      assert.deepEqual(
        back?.history.map((h) => h.action),
        ['raised', 'acknowledged', 'cleared'],
      );
      assert.equal(await store.getActiveAlarm(raise()), undefined);
      const again = await store.insertAlarm(newAlarm(raise(), T0 + 30));
      assert.ok(again);
      assert.notEqual(again.id, alarm.id);
    });

    it('lists newest first with filters and paging; counts active by severity', async () => {
      const all = await store.listAlarms({});
      assert.equal(all.total, 4);
      assert.deepEqual(
        all.items.map((a) => a.raisedAt),
        [T0 + 30, T0 + 3, T0 + 2, T0],
      );
      assert.equal((await store.listAlarms({ active: true })).total, 3);
      assert.deepEqual(
        (await store.listAlarms({ active: false })).items.map((a) => a.clearedBy),
        ['condition'],
      );
      assert.equal((await store.listAlarms({ acknowledged: true })).total, 1);
      assert.equal((await store.listAlarms({ severity: 'critical' })).total, 1);
      assert.equal((await store.listAlarms({ originatorType: 'gateway' })).items[0]?.originatorId, 'gw-a');
      assert.equal((await store.listAlarms({ originatorId: 'meter-1', type: 'overheat' })).total, 2);
      const page = await store.listAlarms({ offset: 1, limit: 2 });
      assert.deepEqual([page.total, page.offset, page.limit, page.items.length], [4, 1, 2, 2]);
      assert.deepEqual(await store.countActiveAlarms(), {
        active: { critical: 1, major: 2, minor: 0, warning: 0, indeterminate: 0 },
        activeTotal: 3,
        unacknowledged: 3,
      });
    });

    it('alarm rules: save, replace (createdAt kept), list by id, delete once', async () => {
      const doc = (v: number) => ({ id: 'hot', condition: 'threshold', point: 't', op: '>', value: v });
      await store.saveAlarmRule({ id: 'hot', definition: doc(40), createdAt: T0, updatedAt: T0 });
      await store.saveAlarmRule({ id: 'a-first', definition: doc(1), createdAt: T0, updatedAt: T0 });
      await store.saveAlarmRule({ id: 'hot', definition: doc(45), createdAt: T0 + 9, updatedAt: T0 + 5 });
      assert.deepEqual(await store.getAlarmRule('hot'), {
        id: 'hot',
        definition: doc(45),
        createdAt: T0,
        updatedAt: T0 + 5,
      });
      assert.deepEqual(
        (await store.listAlarmRules()).map((r) => r.id),
        ['a-first', 'hot'],
      );
      assert.equal(await store.deleteAlarmRule('a-first'), true);
      assert.equal(await store.deleteAlarmRule('a-first'), false);
      assert.equal(await store.getAlarmRule('a-first'), undefined);
    });
  });
}

alarmsSuite('SQLite', tempStore);

const url = testPostgresUrl('PostgreSQL alarms store');
if (url) alarmsSuite('PostgreSQL', () => tempPostgresStore(url, 'mqiot_alarms'));

describe('alarms store: a store made before alarms existed', () => {
  it('gets the alarm tables at the next start, its data untouched', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'mqiot-alarms-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'platform.db');
    const first = await openSqliteStore(path);
    await first.saveRule({ id: 'r', definition: { id: 'r' }, createdAt: T0, updatedAt: T0 });
    await first.close();
    // what an older mqiot left: no alarm tables
    const db = new Database(path);
    db.exec('DROP TABLE alarms; DROP TABLE alarm_rules');
    db.close();
    const store = await openSqliteStore(path);
    t.after(() => store.close());
    assert.equal((await store.listRules()).length, 1);
    assert.ok(await store.insertAlarm(newAlarm(raise(), T0)));
    assert.equal((await store.listAlarms({})).total, 1);
  });
});
