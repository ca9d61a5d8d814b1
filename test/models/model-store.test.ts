// The model tables on both databases: uploaded versions (newest last), a device's model upserted, and
// deleting a device (or its gateway) deletes its model with it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PlatformStore } from '../../src/platform/store/index.ts';
import { tempPostgresStore, tempStore, testPostgresUrl } from '../platform/helpers.ts';

async function suite(store: PlatformStore): Promise<void> {
  await store.saveModelVersion({ id: 'm', version: '1.0.0', source: 'a', createdAt: 1 });
  await store.saveModelVersion({ id: 'm', version: '1.1.0', source: 'b', createdAt: 2 });
  assert.deepEqual(
    (await store.listModelVersions()).map((v) => [v.version, v.source]),
    [
      ['1.0.0', 'a'],
      ['1.1.0', 'b'],
    ],
  );
  for (const id of ['d-1', 'd-2']) {
    await store.ensureGateway('g', 1);
    await store.ensureDevice({ id, gatewayId: 'g', contractId: null }, 1);
  }
  await store.setDeviceModel({
    deviceId: 'd-1',
    modelId: 'm',
    confidence: 0.6,
    identifiedBy: 'detected',
    updatedAt: 1,
  });
  await store.setDeviceModel({
    deviceId: 'd-1',
    modelId: 'm',
    confidence: 0.833,
    identifiedBy: 'detected',
    updatedAt: 2,
  });
  await store.setDeviceModel({
    deviceId: 'd-2',
    modelId: 'm',
    confidence: 1,
    identifiedBy: 'operator',
    updatedAt: 2,
  });
  assert.deepEqual(
    (await store.listDeviceModels()).map((r) => [r.deviceId, r.confidence, r.identifiedBy]),
    [
      ['d-1', 0.833, 'detected'],
      ['d-2', 1, 'operator'],
    ],
  );
  await store.deleteDevice('d-1', false);
  assert.deepEqual(
    (await store.listDeviceModels()).map((r) => r.deviceId),
    ['d-2'],
  );
  await store.deleteGateway('g', false);
  assert.deepEqual(await store.listDeviceModels(), []);
}

describe('model tables', () => {
  it('SQLite', async () => {
    const { store, cleanup } = await tempStore();
    try {
      await suite(store);
    } finally {
      await cleanup();
    }
  });

  const url = testPostgresUrl('model tables on PostgreSQL');
  if (url)
    it('PostgreSQL', async () => {
      const { store, cleanup } = await tempPostgresStore(url, 'models');
      try {
        await suite(store);
      } finally {
        await cleanup();
      }
    });
});
