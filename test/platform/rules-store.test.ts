// Linkage rules in the platform store: the same tests on SQLite and on a real PostgreSQL
// (MQIOT_TEST_PG_URL, started by .ci/postgres.sh; in CI a missing URL fails instead of skipping).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PlatformStore } from '../../src/platform/store/index.ts';
import { tempPostgresStore, tempStore, testPostgresUrl } from './helpers.ts';

const T0 = Date.UTC(2026, 0, 1);
const definition = (id: string, value: number) => ({
  id,
  name: `rule ${id}`,
  enabled: true,
  when: { device: 'meter-1', point: 'power', op: '>', value },
  then: [{ type: 'command', device: 'relay-2', action: 'trip', params: { ü: 'ünïcode' } }],
});

function rulesSuite(name: string, open: () => Promise<{ store: PlatformStore; cleanup(): Promise<void> }>) {
  describe(`rules store: ${name}`, () => {
    let store: PlatformStore;
    let cleanup: () => Promise<void>;
    before(async () => ({ store, cleanup } = await open()));
    after(async () => cleanup());

    it('saves, reads back and lists rules (ordered by id), JSON intact', async () => {
      await store.saveRule({ id: 'b', definition: definition('b', 5), createdAt: T0, updatedAt: T0 });
      await store.saveRule({
        id: 'a',
        definition: definition('a', 7.5),
        createdAt: T0 + 1,
        updatedAt: T0 + 1,
      });
      assert.deepEqual(await store.getRule('b'), {
        id: 'b',
        definition: definition('b', 5),
        createdAt: T0,
        updatedAt: T0,
      });
      assert.deepEqual(
        (await store.listRules()).map((r) => [r.id, (r.definition.when as { value: number }).value]),
        [
          ['a', 7.5],
          ['b', 5],
        ],
      );
      assert.equal(await store.getRule('nope'), undefined);
    });

    it('saving again replaces the document and keeps createdAt', async () => {
      await store.saveRule({
        id: 'b',
        definition: definition('b', 9),
        createdAt: T0 + 99,
        updatedAt: T0 + 50,
      });
      const row = await store.getRule('b');
      assert.equal((row?.definition.when as { value: number }).value, 9);
      assert.equal(row?.createdAt, T0);
      assert.equal(row?.updatedAt, T0 + 50);
      assert.equal((await store.listRules()).length, 2);
    });

    it('deletes a rule once', async () => {
      assert.equal(await store.deleteRule('a'), true);
      assert.equal(await store.deleteRule('a'), false);
      assert.deepEqual(
        (await store.listRules()).map((r) => r.id),
        ['b'],
      );
    });

    it("firings are events of subject type 'rule', found by rule id", async () => {
      await store.addEvent({
        ts: T0,
        kind: 'rule-fired',
        subjectType: 'rule',
        subjectId: 'b',
        detail: { value: 9.5, commandId: 'cmd-1' },
      });
      await store.addEvent({
        ts: T0 + 1,
        kind: 'rule-fired',
        subjectType: 'rule',
        subjectId: 'other',
        detail: {},
      });
      const events = await store.listEvents({ subjectType: 'rule', subjectId: 'b', kind: 'rule-fired' });
      assert.deepEqual(
        events.map((e) => e.detail),
        [{ value: 9.5, commandId: 'cmd-1' }],
      );
    });
  });
}

rulesSuite('SQLite', tempStore);

const url = testPostgresUrl('PostgreSQL rules store');
if (url) rulesSuite('PostgreSQL', () => tempPostgresStore(url, 'mqiot_rules'));
