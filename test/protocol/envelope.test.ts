import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode as cborDecode, Encoder } from 'cbor-x';
import {
  decodeEnvelope,
  encodeEnvelope,
  encodeEnvelopeJson,
  EnvelopeError,
  type Envelope,
} from '../../src/protocol/envelope.ts';
import {
  deviceTelemetryTopic,
  gatewayDownTopic,
  gatewayUpTopic,
  parseDeviceTelemetryTopic,
  parseGatewayDownTopic,
  parseGatewayUpTopic,
  parseProtocolTopic,
  TopicIdError,
} from '../../src/protocol/gateway-topics.ts';

const base = { v: 1 as const, gw: 'gw-1', ts: 1_700_000_000_000 };
const samples: Envelope[] = [
  {
    ...base,
    k: 'data',
    seq: 7,
    frames: [
      {
        dev: 'm1',
        c: 'modbus-tcp',
        ts: base.ts,
        seq: 0,
        raw: Buffer.from('00010000000701030400050006', 'hex'),
        ctx: { unit: 1, function: 3, start: 3, count: 2 },
      },
      { dev: 'e1', c: 'dlt645-2007', ts: base.ts + 5, seq: 12, raw: Buffer.from([0x68, 0x16]) },
    ],
  },
  {
    ...base,
    k: 'birth',
    seq: 1,
    epoch: 'a1b2',
    devices: [{ dev: 'm1', c: 'modbus-tcp', pollMs: 1000 }],
    sw: 'mqiot 0.1.0',
  },
  { ...base, k: 'will', seq: 1, epoch: 'a1b2', reason: 'connection lost' },
  { ...base, k: 'cmd', id: 'c-1', dev: 'e1', action: 'relay', params: { on: false } },
  { ...base, k: 'cmd-result', seq: 9, id: 'c-1', dev: 'e1', ok: true, result: { relay: 'off' } },
  { ...base, k: 'cmd-result', seq: 10, id: 'c-2', dev: 'e1', ok: false, error: 'timeout', cached: true },
  { ...base, k: 'query', id: 'q-1', devs: ['m1'] },
  {
    ...base,
    k: 'status',
    seq: 11,
    id: 'q-1',
    complete: false,
    status: { online: true },
    error: 'e1: timeout',
  },
  { ...base, k: 'report', seq: 12, report: { uptimeMs: 1000, queueDepth: 0 } },
  { ...base, k: 'report-ack', ack: 12 },
  { ...base, k: 'heartbeat', interval: 60_000 },
];

for (const msg of samples) {
  test(`envelope: ${msg.k} round-trips through CBOR`, () => {
    const wire = encodeEnvelope(msg);
    assert.notEqual(wire[0], 0x7b);
    assert.deepEqual(decodeEnvelope(wire), msg);
  });
  test(`envelope: ${msg.k} round-trips through JSON (debug form)`, () => {
    const json = encodeEnvelopeJson(msg);
    assert.deepEqual(decodeEnvelope(Buffer.from(json)), msg);
  });
}

test('envelope: wire form is a plain CBOR map any decoder reads, raw as a byte string', () => {
  const decoded = cborDecode(encodeEnvelope(samples[0]!)) as { k: string; frames: { raw: Uint8Array }[] };
  assert.equal(decoded.k, 'data');
  assert.ok(decoded.frames[0]!.raw instanceof Uint8Array);
  assert.equal(Buffer.from(decoded.frames[0]!.raw).toString('hex'), '00010000000701030400050006');
});

test('envelope: JSON raw may be spaced hex', () => {
  const msg = decodeEnvelope(
    Buffer.from(
      JSON.stringify({
        ...base,
        k: 'data',
        seq: 1,
        frames: [{ dev: 'a', c: 'x', ts: 1, seq: 0, raw: '01 03 ff' }],
      }),
    ),
  );
  assert.equal(msg.k, 'data');
  assert.deepEqual([...(msg.k === 'data' ? msg.frames[0]!.raw : [])], [1, 3, 255]);
});

test('envelope: report-ack written with seq only is accepted as ack', () => {
  const msg = decodeEnvelope(Buffer.from(JSON.stringify({ ...base, k: 'report-ack', seq: 5 })));
  assert.equal(msg.k === 'report-ack' && msg.ack, 5);
});

const bad: [string, unknown, string][] = [
  ['wrong version', { ...base, v: 2, k: 'heartbeat' }, 'v'],
  ['unknown kind', { ...base, k: 'nope' }, 'k'],
  ['missing gw', { v: 1, k: 'heartbeat', ts: 1 }, 'gw'],
  ['uplink without seq', { ...base, k: 'report', report: {} }, 'seq'],
  ['negative seq', { ...base, k: 'report', seq: -1, report: {} }, 'seq'],
  ['data without frames', { ...base, k: 'data', seq: 1, frames: [] }, 'frames'],
  [
    'frame without raw',
    { ...base, k: 'data', seq: 1, frames: [{ dev: 'a', c: 'x', ts: 1, seq: 0 }] },
    'frames[0].raw',
  ],
  [
    'frame raw not bytes',
    { ...base, k: 'data', seq: 1, frames: [{ dev: 'a', c: 'x', ts: 1, seq: 0, raw: 'zz' }] },
    'frames[0].raw',
  ],
  [
    'frame without dev',
    { ...base, k: 'data', seq: 1, frames: [{ c: 'x', ts: 1, seq: 0, raw: '00' }] },
    'frames[0].dev',
  ],
  ['birth without epoch', { ...base, k: 'birth', seq: 1, devices: [] }, 'epoch'],
  [
    'birth device without contract',
    { ...base, k: 'birth', seq: 1, epoch: 'e', devices: [{ dev: 'a' }] },
    'devices[0].c',
  ],
  ['cmd without action', { ...base, k: 'cmd', id: 'c', dev: 'd' }, 'action'],
  ['cmd params not a map', { ...base, k: 'cmd', id: 'c', dev: 'd', action: 'a', params: [1] }, 'params'],
  [
    'failed cmd-result without error',
    { ...base, k: 'cmd-result', seq: 1, id: 'c', dev: 'd', ok: false },
    'error',
  ],
  ['status without complete', { ...base, k: 'status', seq: 1, id: 'q', status: {} }, 'complete'],
  ['query devs not strings', { ...base, k: 'query', id: 'q', devs: [1] }, 'devs[0]'],
  ['report-ack without ack', { ...base, k: 'report-ack' }, 'ack'],
  ['not a map', [1, 2], ''],
];
for (const [name, value, field] of bad) {
  test(`envelope: rejects ${name}, naming the field`, () => {
    const check = (err: unknown) => err instanceof EnvelopeError && err.field === field;
    assert.throws(() => decodeEnvelope(Buffer.from(JSON.stringify(value))), check);
    assert.throws(() => encodeEnvelope(value as Envelope), check);
  });
}

test('envelope: garbage and empty input give EnvelopeError', () => {
  assert.throws(() => decodeEnvelope(Buffer.alloc(0)), EnvelopeError);
  assert.throws(() => decodeEnvelope(Buffer.from('{not json')), /not valid JSON/);
  assert.throws(() => decodeEnvelope(Buffer.from([0xff, 0x00, 0x13])), EnvelopeError);
});

// A CBOR data group with frames encodeEnvelope() would refuse to write (it checks before sending).
const rawCbor = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
const good = (i: number) => ({ dev: `d${i}`, c: 'modbus-tcp', ts: 5, seq: i, raw: Buffer.from([i]) });
const group = (frames: unknown[]) => rawCbor.encode({ ...base, k: 'data', seq: 1, frames });

test('envelope: a CBOR data group keeps its good frames and marks the faults of the others', () => {
  const msg = decodeEnvelope(
    group([
      good(0),
      { ...good(1), c: 5 },
      { ...good(2), ctx: [1] },
      { ...good(3), fault: { field: 'c', reason: 'pre-marked by the sender' } },
      { ...good(4), ctx: { unit: 1 } },
    ]),
  );
  assert.ok(msg.k === 'data');
  assert.deepEqual(
    msg.frames.map((f) => f.fault),
    [
      undefined,
      { field: 'c', reason: 'frames[1].c: must be a non-empty string' },
      { field: 'ctx', reason: 'frames[2].ctx: must be a map' },
      undefined,
      undefined,
    ],
  );
  assert.deepEqual([msg.frames[1]!.c, 'ctx' in msg.frames[2]!], ['', false]);
  assert.ok(!('fault' in msg.frames[3]!), "a sender's fault is dropped");
  assert.deepEqual(msg.frames[4], { ...good(4), ctx: { unit: 1 } });
});

test('envelope: a CBOR data group with a frame that cannot be stored is refused, naming the field', () => {
  const cases: [unknown, string, RegExp][] = [
    [{ ...good(3), ts: -1 }, 'frames[3].ts', /must be a non-negative integer/],
    [{ ...good(3), seq: 1.5 }, 'frames[3].seq', /must be a non-negative integer/],
    [{ ...good(3), dev: '' }, 'frames[3].dev', /must be a non-empty string/],
    [{ ...good(3), raw: '01' }, 'frames[3].raw', /must be a CBOR byte string/],
    ['not a frame', 'frames[3]', /must be a map/],
  ];
  for (const [frame, field, message] of cases)
    assert.throws(
      () => decodeEnvelope(group([good(0), good(1), good(2), frame, good(4)])),
      (err: unknown) => err instanceof EnvelopeError && err.field === field && message.test(err.message),
      field,
    );
});

test('envelope: raw is a Buffer whether the message came in a Buffer or a plain Uint8Array', () => {
  const wire = encodeEnvelope(samples[0]!);
  for (const input of [wire, new Uint8Array(wire)]) {
    const msg = decodeEnvelope(input);
    assert.ok(msg.k === 'data');
    assert.ok(Buffer.isBuffer(msg.frames[0]!.raw));
    assert.deepEqual(msg, samples[0]);
  }
});

test('gateway topics: build and parse the two gateway topics and the telemetry topic', () => {
  assert.equal(gatewayUpTopic('gw-1'), 'mqiot/gw/gw-1/up');
  assert.equal(gatewayDownTopic('gw-1'), 'mqiot/gw/gw-1/down');
  assert.equal(deviceTelemetryTopic('m1'), 'mqiot/dev/m1/telemetry');
  assert.equal(parseGatewayUpTopic('mqiot/gw/gw-1/up'), 'gw-1');
  assert.equal(parseGatewayDownTopic('mqiot/gw/gw-1/down'), 'gw-1');
  assert.equal(parseDeviceTelemetryTopic('mqiot/dev/m1/telemetry'), 'm1');
  assert.equal(parseGatewayUpTopic('mqiot/gw/gw-1/down'), undefined);
  assert.equal(parseProtocolTopic('mqiot/gw/a/b/up'), undefined);
  assert.equal(parseProtocolTopic('other/gw/a/up'), undefined);
  assert.equal(parseProtocolTopic('mqiot/gw/+/up'), undefined);
});

test('gateway topics: ids that cannot be one topic level are refused', () => {
  for (const id of ['', 'a/b', 'a+', '#', 'a\u0000']) assert.throws(() => gatewayUpTopic(id), TopicIdError);
});
