// What decoding a data group costs per frame: decodeEnvelope() over 2,000 groups of 50 frames (DL/T 645
// and Modbus frames with small ctx maps, as our encoder writes them), with its parts. With
// `--baseline <git revision>` the decoder of that revision (its src/protocol, taken with `git show`) runs
// side by side in the same process, rounds interleaved, so a noisy machine hits both alike.
// Usage: node --import tsx bench/protocol/envelope-decode.ts [--baseline ae80f06] [--rounds 15]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Decoder, type Options } from 'cbor-x';
import { checkCbor } from '../../src/protocol/cbor-check.ts';
import { readCbor } from '../../src/protocol/cbor-read.ts';
import { decodeEnvelope, encodeEnvelope, type Frame } from '../../src/protocol/envelope.ts';
import { benchFrame, T0 } from '../ingest/frames.ts';

const { values } = parseArgs({
  options: { baseline: { type: 'string' }, rounds: { type: 'string', default: '15' } },
});
const ROUNDS = Number(values.rounds);
const GROUPS = 2000;
const FRAMES = 50;

const frame = (i: number): Frame => benchFrame(i, 100);
const groups = Array.from({ length: GROUPS }, (_, g) =>
  encodeEnvelope({
    v: 1,
    k: 'data',
    gw: 'bench-site',
    seq: g + 1,
    ts: T0 + g * 1000,
    frames: Array.from({ length: FRAMES }, (_, j) => frame(g * FRAMES + j)),
  }),
);

/** The decodeEnvelope() of `revision`, loaded from a copy of its src/protocol. */
async function baselineDecoder(revision: string): Promise<(buf: Uint8Array) => unknown> {
  const repo = resolve(import.meta.dirname, '../..');
  const dir = mkdtempSync(join(tmpdir(), 'mqiot-bench-decode-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules')); // its imports of cbor-x resolve
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' });
  for (const path of git('ls-tree', '-r', '--name-only', revision, 'src/protocol').split('\n')) {
    if (!path) continue;
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), git('show', `${revision}:${path}`));
  }
  const module = (await import(join(dir, 'src/protocol/envelope.ts'))) as {
    decodeEnvelope: (buf: Uint8Array) => unknown;
  };
  return module.decodeEnvelope;
}

// The general path on its own: the decoder decodeEnvelope() falls back to (envelope.ts).
const cborX = new Decoder({ useRecords: false, mapsAsObjects: true, int64AsNumber: true } as Options);
const runs: [string, (buf: Uint8Array) => unknown][] = [['decodeEnvelope', decodeEnvelope]];
if (values.baseline)
  runs.unshift([`decodeEnvelope @ ${values.baseline}`, await baselineDecoder(values.baseline)]);
runs.push(
  ['  readCbor alone (the one pass)', readCbor],
  ['  general path: checkCbor', checkCbor],
  ['  general path: cbor-x', (buf) => cborX.decode(buf)],
);

/** ns per frame of one pass of `decode` over every group. */
function pass(decode: (buf: Uint8Array) => unknown): number {
  const start = process.hrtime.bigint();
  for (const group of groups) decode(group);
  return Number(process.hrtime.bigint() - start) / (GROUPS * FRAMES);
}

const times = runs.map(() => [] as number[]);
for (let round = -3; round < ROUNDS; round++) {
  // Every other round in reverse order, so neither side always runs right after the other.
  const order = runs.map((_, i) => (round % 2 === 0 ? i : runs.length - 1 - i));
  for (const i of order) {
    const ns = pass(runs[i]![1]);
    if (round >= 0) times[i]!.push(ns); // the first three rounds warm the JIT up
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(`ns per frame, median of ${ROUNDS} interleaved rounds of ${GROUPS} groups × ${FRAMES} frames`);
console.log(`(${groups[0]!.length} bytes per group)\n`);
for (const [i, [name]] of runs.entries())
  console.log(`${name.padEnd(36)} ${median(times[i]!).toFixed(0).padStart(6)}`);
if (values.baseline) {
  const ratios = times[0]!.map((before, round) => times[1]![round]! / before);
  console.log(`\nafter / before, median of the rounds' ratios: ${median(ratios).toFixed(2)}`);
}
