// A data group with one malformed frame (no contract id `c`): that frame is stored as a frame error,
// the group's other frames are decoded and stored as usual, and nothing is refused as a whole.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  decodeEnvelope,
  encodeEnvelope,
  EnvelopeError,
  type DataEnvelope,
} from '../../src/protocol/envelope.ts';
import { startEdge } from '../support/live.ts';
import { connectGateway } from '../support/mqtt.ts';
import { waitFor } from '../support/wait.ts';

const RAW = '6861010000000068910833333433593333338a16'; // DL/T 645: energy 00010000 of meter 000000000161
const frame = (dev: string, seq: number, c?: string) => ({
  dev,
  ...(c === undefined ? {} : { c }),
  ts: 1763758799840 + seq,
  seq,
  raw: RAW,
  ctx: { di: '00010000' },
});
const group = (frames: unknown[]) =>
  Buffer.from(JSON.stringify({ v: 1, k: 'data', gw: 'gw-fault', seq: 2, ts: 1763758800000, frames }));

test('decodeEnvelope marks a frame without c instead of refusing the group; encoding still refuses it', () => {
  const data = decodeEnvelope(group([frame('good', 0, 'dlt645-2007'), frame('bad', 0)])) as DataEnvelope;
  assert.equal(data.frames.length, 2);
  assert.equal(data.frames[0]!.fault, undefined);
  assert.deepEqual(data.frames[1]!.fault, { field: 'c', reason: 'frames[1].c: must be a non-empty string' });
  // a frame that cannot be attributed to a device still spoils the message
  assert.throws(() => decodeEnvelope(group([{ ...frame('x', 0, 'dlt645-2007'), dev: '' }])), EnvelopeError);
  // and a sender never puts a frame without c on the wire
  const unsent = { ...data, frames: [{ ...data.frames[1]!, c: '', fault: undefined }] };
  assert.throws(() => encodeEnvelope(unsent), /frames\[0\]\.c/);
});

test('the platform stores the malformed frame as a frame error and the rest of the group as readings', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mqiot-frame-fault-'));
  const edge = await startEdge(dir);
  const gw = await connectGateway(edge.mqttUrl, 'gw-fault', { protocolVersion: 5 });
  t.after(async () => {
    await gw.endAsync();
    await edge.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const birth = { v: 1, k: 'birth', gw: 'gw-fault', seq: 1, ts: 1763758790000, epoch: 'e-1', devices: [] };
  await gw.publishAsync('mqiot/gw/gw-fault/up', JSON.stringify(birth), { qos: 1 });
  await gw.publishAsync(
    'mqiot/gw/gw-fault/up',
    group([
      frame('good-meter', 0, 'dlt645-2007'),
      frame('bad-meter', 0),
      frame('good-meter', 1, 'dlt645-2007'),
    ]),
    { qos: 1 },
  );
  await waitFor(
    'both readings of good-meter',
    async () => (await edge.app.store.countPoints('good-meter')) === 2,
  );
  const bad = await waitFor('the frame error of bad-meter', async () => {
    const rows = await edge.app.store.frames({ deviceId: 'bad-meter' });
    return rows.length > 0 && rows;
  });
  assert.equal(bad.length, 1);
  assert.equal(bad[0]!.ok, false);
  assert.equal(bad[0]!.contractId, null);
  assert.equal(bad[0]!.rawHex, RAW, 'stored exactly as sent');
  assert.match(bad[0]!.error!.reason, /^invalid-frame: frames\[1\]\.c: must be a non-empty string/);
  // the group was not refused as a whole
  assert.doesNotMatch(await edge.app.platform.metrics.render(), /reason="invalid-envelope"\} [1-9]/);
});
