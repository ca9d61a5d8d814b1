// Frames per second per core for each built-in contract, side by side with a hand-written decoder
// and with binary-parser, in one run. Usage: node --import tsx bench/contracts/run.ts [--ms 100] [--rounds 15]
import assert from 'node:assert/strict';
import { parseArgs } from 'node:util';
import { builtinContract, type DecodeResult } from '../../src/contracts/index.ts';
import { parseHex } from '../../src/contracts/primitives.ts';
import { bpAcme, bpCayenne, bpDlt645, bpModbusRtu, bpModbusTcp } from './bp.ts';
import { handAcme, handCayenne, handDlt645, handModbusRtu, handModbusTcp } from './hand.ts';

type Decoder = (frame: Uint8Array, ctx?: Record<string, unknown>) => DecodeResult;
interface Case {
  id: string;
  frame: Uint8Array;
  ctx?: Record<string, unknown>;
  hand: Decoder;
  bp: Decoder;
}

const CASES: Case[] = [
  {
    id: 'modbus-rtu',
    frame: parseHex('01 03 14 00 00 00 00 04 D2 00 00 00 00 00 7B 00 00 00 00 00 00 00 00 E5 0B'),
    ctx: { start: 100 },
    hand: handModbusRtu as Decoder,
    bp: bpModbusRtu as Decoder,
  },
  {
    id: 'modbus-tcp',
    frame: parseHex('00 01 00 00 00 07 01 03 04 00 05 00 06'),
    ctx: { start: 3 },
    hand: handModbusTcp as Decoder,
    bp: bpModbusTcp as Decoder,
  },
  {
    id: 'dlt645-2007',
    frame: parseHex('FE FE 68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16'),
    hand: handDlt645,
    bp: bpDlt645,
  },
  {
    id: 'acme-th10',
    frame: parseHex('AA 55 10 01 00 A1 B2 C3 05 09 29 02 00 0B C4 23 45 00 01 C3 A9'),
    hand: handAcme,
    bp: bpAcme,
  },
  {
    id: 'cayenne-lpp',
    frame: parseHex('03 67 01 10 05 67 00 FF 06 71 04 D2 FB 2E 00 00 01 88 06 76 5F F2 96 0A 00 03 E8'),
    hand: handCayenne,
    bp: bpCayenne,
  },
];

const { values } = parseArgs({
  options: { ms: { type: 'string', default: '100' }, rounds: { type: 'string', default: '15' } },
});
const MS = Number(values.ms);
const ROUNDS = Number(values.rounds);

let sink = 0;
/** CPU microseconds of this process: frames per CPU-second is "per core" even on a busy machine. */
function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function fps(fn: Decoder, frame: Uint8Array, ctx: Record<string, unknown> | undefined): number {
  let n = 0;
  const t0 = performance.now();
  const c0 = cpuMicros();
  while (performance.now() - t0 < MS) {
    for (let i = 0; i < 500; i++) if (fn(frame, ctx).ok) sink++;
    n += 500;
  }
  return (n / Math.max(1, cpuMicros() - c0)) * 1e6;
}

const rows: string[][] = [];
for (const c of CASES) {
  const contract = builtinContract(c.id);
  const ours: Decoder = (f, ctx) => contract.decode(f, ctx);
  // The three decoders must agree on the telemetry before their speed means anything.
  const want = ours(c.frame, c.ctx);
  assert.ok(want.ok, c.id);
  for (const other of [c.hand, c.bp]) {
    const got = other(c.frame, c.ctx);
    assert.ok(got.ok, `${c.id}: ${JSON.stringify(got)}`);
    assert.deepEqual(got.points, want.points, c.id);
  }
  // The hand-written decoder does all the contract's work: the same fields too, not only the points.
  const hand = c.hand(c.frame, c.ctx);
  assert.ok(hand.ok && want.ok);
  assert.deepEqual(hand.fields, want.fields, `${c.id}: hand-written fields`);
  const best = { contract: 0, hand: 0, bp: 0 };
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Interleaved rounds so machine noise hits all three alike; best of the rounds is kept, and the
    // median of the per-round contract/hand ratios is reported too (robust on a busy machine).
    const contract = fps(ours, c.frame, c.ctx);
    const hand = fps(c.hand, c.frame, c.ctx);
    const bp = fps(c.bp, c.frame, c.ctx);
    best.contract = Math.max(best.contract, contract);
    best.hand = Math.max(best.hand, hand);
    best.bp = Math.max(best.bp, bp);
    ratios.push(contract / hand);
  }
  ratios.sort((a, b) => a - b);
  const median = ratios[Math.floor(ratios.length / 2)]!;
  rows.push([
    c.id,
    String(c.frame.length),
    Math.round(best.contract).toLocaleString('en'),
    Math.round(best.hand).toLocaleString('en'),
    Math.round(best.bp).toLocaleString('en'),
    `${Math.round((best.contract / best.hand) * 100)}%`,
    `${Math.round(median * 100)}%`,
  ]);
}

const head = [
  'contract',
  'bytes',
  'contract fps',
  'hand-written fps',
  'binary-parser fps',
  'contract/hand (best)',
  'contract/hand (median)',
];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) =>
  r.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
console.log(`frames per CPU-second, one core (best of ${ROUNDS} × ${MS} ms), node ${process.version}`);
console.log(line(head));
for (const r of rows) console.log(line(r));
if (sink < 0) console.log(sink);
