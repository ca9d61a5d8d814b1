// What a device model adds to a frame's cost at ingest, side by side in one run: decoding alone (the
// contract), decoding + naming the points with the model (a device whose model is settled), and
// decoding + one identification step over every built-in model (a device still being identified).
// Usage: node --import tsx bench/models/run.ts [--ms 200] [--rounds 9]
import { parseArgs } from 'node:util';
import { builtinContract } from '../../src/contracts/index.ts';
import {
  addEvidence,
  applyModel,
  builtinModel,
  identifyModel,
  listBuiltinModels,
  newEvidence,
} from '../../src/contracts/models/index.ts';

const { values } = parseArgs({
  options: { ms: { type: 'string', default: '200' }, rounds: { type: 'string', default: '9' } },
});
const MS = Number(values.ms);
const ROUNDS = Number(values.rounds);

const CASES = [
  {
    model: 'sim-power-meter',
    contract: 'modbus-tcp',
    hex: '00 01 00 00 00 19 01 03 16 08 FD 02 00 04 7E 00 00 30 39 13 8A 03 B6 00 D7 00 01 08 FB 09 06',
  },
  {
    model: 'sim-environment-sensor',
    contract: 'cayenne-lpp',
    hex: '01 67 00 D7 02 68 68 03 02 01 68 04 73 27 94',
  },
  {
    model: 'sim-energy-meter',
    contract: 'dlt645-2007',
    hex: '68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16',
  },
];
const models = listBuiltinModels().map((id) => builtinModel(id));

/** Operations per second of `fn`, the median of ROUNDS rounds of MS milliseconds. */
function rate(fn: () => void): number {
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let n = 0;
    const start = performance.now();
    let now = start;
    while (now - start < MS) {
      for (let i = 0; i < 100; i++) fn();
      n += 100;
      now = performance.now();
    }
    rates.push((n * 1000) / (now - start));
  }
  return rates.sort((a, b) => a - b)[Math.floor(rates.length / 2)]!;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(11);
console.log(`frames/s per core (median of ${ROUNDS} × ${MS} ms), ratios to decoding alone\n`);
console.log('contract      | decode      | + model points       | + identification step');
for (const c of CASES) {
  const contract = builtinContract(c.contract);
  const model = builtinModel(c.model);
  const frame = Buffer.from(c.hex.replace(/\s+/g, ''), 'hex');
  const decodeOnly = rate(() => void contract.decode(frame));
  const named = rate(() => {
    const d = contract.decode(frame);
    if (d.ok) applyModel(model, d.points);
  });
  const evidence = newEvidence();
  const identify = rate(() => {
    const d = contract.decode(frame);
    if (!d.ok) return;
    addEvidence(evidence, contract.id, d.fields, d.points);
    identifyModel(models, evidence);
  });
  console.log(
    `${c.contract.padEnd(13)} | ${fmt(decodeOnly)} | ${fmt(named)} (${(named / decodeOnly).toFixed(2)}) | ${fmt(identify)} (${(identify / decodeOnly).toFixed(2)})`,
  );
}
