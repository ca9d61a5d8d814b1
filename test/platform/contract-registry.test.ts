import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ContractRegistry } from '../../src/platform/contract-registry.ts';
import type { PlatformStore } from '../../src/platform/store/index.ts';
import { tempStore, toyFrame, toySource } from './helpers.ts';

describe('ContractRegistry', () => {
  let store: PlatformStore;
  let cleanup: () => Promise<void>;
  before(async () => ({ store, cleanup } = await tempStore()));
  after(async () => cleanup());

  it('keeps uploaded versions and loads the newest after a restart', async () => {
    const first = new ContractRegistry(store, toySource);
    await first.load();
    await first.upload(JSON.stringify({ id: 'vendor-z', version: '1.0.0', marker: 0xd1 }), 1);
    await first.upload(JSON.stringify({ id: 'vendor-z', version: '1.2.0', marker: 0xd2 }), 2);
    const restarted = new ContractRegistry(store, toySource);
    await restarted.load();
    assert.equal(restarted.get('vendor-z')?.version, '1.2.0');
    assert.equal(restarted.detect(toyFrame(0xd2, 1))?.id, 'vendor-z');
    assert.equal(restarted.detect(toyFrame(0xd1, 1)), undefined, 'the older version no longer decodes');
  });

  it('refuses to shadow a built-in contract', async () => {
    const registry = new ContractRegistry(store, toySource);
    await registry.load();
    await assert.rejects(registry.upload(JSON.stringify({ id: 'toy-temp', version: '9', marker: 1 }), 3), {
      code: 'conflict',
    });
  });

  it('lists a built-in that cannot be built as unavailable instead of failing', async () => {
    const registry = new ContractRegistry(store, {
      ...toySource,
      builtinIds: () => ['toy-temp', 'broken'],
      builtin: (id) => {
        if (id === 'broken') throw new Error('does not compile');
        return toySource.builtin(id);
      },
    });
    await registry.load();
    assert.deepEqual(registry.unavailable, ['broken']);
    assert.ok(registry.get('toy-temp'));
  });

  it('tries a frame with a named contract', () => {
    const registry = new ContractRegistry(store, toySource);
    return registry.load().then(() => {
      assert.deepEqual(registry.tryFrame('toy-hum', toyFrame(0xb2, 10)), {
        ok: true,
        fields: { value: 10 },
        points: [{ name: 'humidity', value: 1, unit: '%' }],
      });
      assert.throws(() => registry.tryFrame('nope', toyFrame(0xb2, 10)), { code: 'not_found' });
    });
  });
});
