// How many data groups go into one transaction: maxIngestBatch, and more once the platform knows many
// devices (one group per two devices, at most five times maxIngestBatch), so that a batch holds several
// readings per series. Counted by the store's insertReadings calls, with groups queued all at once.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { encodeEnvelope } from '../../src/protocol/envelope.ts';
import { ContractRegistry } from '../../src/platform/contract-registry.ts';
import { Platform } from '../../src/platform/platform.ts';
import { mosquittoHashing } from '../../src/app/secret-hashing.ts';
import { tempStore, toyFrame, toySource, withInsertReadings } from './helpers.ts';

const GW = 'gw-batch';
const UP = `mqiot/gw/${GW}/up`;

/** A platform whose store counts insertReadings calls and the data groups in each. */
async function countingPlatform(t: { after(fn: () => Promise<void>): void }) {
  const { store, cleanup } = await tempStore();
  const batches: number[] = [];
  const counting = withInsertReadings(store, (insert, ...args) => {
    batches.push(new Set(args[0].map((r) => r.groupSeq)).size);
    return insert(...args);
  });
  const contracts = new ContractRegistry(store, toySource);
  await contracts.load();
  const platform = new Platform(
    { maxIngestBatch: 2 },
    { store: counting, contracts, secretHashing: mosquittoHashing },
  );
  await platform.start({ timers: false });
  t.after(async () => {
    await platform.stop();
    await cleanup();
  });
  let seq = 0;
  /** Queues `groups` data groups at once, each with a frame of each of `devices` devices; resolves when stored. */
  const send = async (groups: number, devices: number) => {
    const now = Date.now();
    const pending = Array.from({ length: groups }, () => {
      seq++;
      const frames = Array.from({ length: devices }, (_, d) => ({
        dev: `dev-${d}`,
        c: 'toy-temp',
        ts: now + seq,
        seq,
        raw: toyFrame(0xa1, 20),
      }));
      return platform.handleUplink(UP, encodeEnvelope({ v: 1, k: 'data', gw: GW, seq, ts: now, frames }))!;
    });
    await Promise.all(pending);
  };
  return { platform, store, batches, send };
}

it('takes maxIngestBatch data groups a batch while the platform knows few devices', async (t) => {
  const { batches, send } = await countingPlatform(t);
  await send(1, 3); // three devices known: the limit stays 2
  batches.length = 0;
  await send(8, 3);
  assert.deepEqual(batches, [2, 2, 2, 2]);
});

it('takes more data groups a batch once it knows many devices: one per two, up to five times as many', async (t) => {
  const { batches, send, store } = await countingPlatform(t);
  await send(1, 14); // 14 devices: 7 groups a batch
  batches.length = 0;
  await send(14, 14);
  assert.deepEqual(batches, [7, 7]);
  await send(1, 40); // 40 devices: 20, but at most 5 × 2
  batches.length = 0;
  await send(20, 3);
  assert.deepEqual(batches, [10, 10]);
  assert.equal(await store.countPoints('dev-0'), 1 + 14 + 1 + 20);
});
