// Device models: parsing and checking, applying to decoded points, identification from the published
// frame vectors, catalog hashes and the envelope's catalog fields.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { builtinContract, ContractError } from '../../src/contracts/index.ts';
import {
  addEvidence,
  applyModel,
  builtinModel,
  catalogHash,
  identifyModel,
  listBuiltinModels,
  loadModel,
  newEvidence,
  runModelTests,
  checkModelCommands,
  scoreModel,
} from '../../src/contracts/models/index.ts';
import { EnvelopeError, validateEnvelope } from '../../src/protocol/envelope.ts';

interface Vector {
  name: string;
  hex: string;
}
const vectors = JSON.parse(
  readFileSync(new URL('../fixtures/vectors/frames.json', import.meta.url), 'utf8'),
) as Record<string, Vector[]>;
const bytes = (hex: string) => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
const vector = (group: string, start: string) => vectors[group]!.find((v) => v.name.startsWith(start))!;
const models = () => listBuiltinModels().map((id) => builtinModel(id));

/** The evidence a device leaves by sending these frames (decoded with the contract named). */
function evidenceOf(frames: { contract: string; hex: string; context?: Record<string, unknown> }[]) {
  const evidence = newEvidence();
  for (const f of frames) {
    const decoded = builtinContract(f.contract).decode(bytes(f.hex), f.context);
    assert.ok(decoded.ok, `${f.hex} decodes`);
    addEvidence(evidence, f.contract, decoded.fields, decoded.points);
  }
  return evidence;
}

const MINIMAL = `
id: my-meter
contracts: [modbus-tcp]
points:
  - { name: voltage, from: holding.0, scale: 0.1, unit: V }
`;

describe('device model documents', () => {
  it('every built-in model loads, its commands exist in its contracts and its inline tests pass', () => {
    assert.ok(listBuiltinModels().length >= 6);
    for (const model of models()) {
      const report = runModelTests(model, (id) => builtinContract(id));
      assert.equal(report.failed, 0, `${model.id}: ${JSON.stringify(report.cases.filter((c) => !c.ok))}`);
      assert.ok(report.passed >= 1, `${model.id} has a test`);
      assert.deepEqual(
        checkModelCommands(model, (id) => builtinContract(id)),
        [],
      );
    }
  });

  it('a minimal document gets its defaults', () => {
    const m = loadModel(MINIMAL);
    assert.equal(m.version, '1.0.0');
    assert.deepEqual(m.points[0], {
      name: 'voltage',
      from: ['holding.0'],
      type: 'number',
      words: 'ABCD',
      scale: 0.1,
      offset: 0,
      unit: 'V',
    });
    assert.deepEqual(m.commands, []);
    assert.deepEqual(m.identify, { dis: [], points: [], fields: {} });
  });

  it('refuses a bad document with the place of the problem', () => {
    const cases: [string, string, RegExp][] = [
      ['id: x\ncontracts: []', 'contracts', /at least one/],
      [`${MINIMAL}  - { name: energy, from: holding.3, type: u32 }`, 'points[1].from', /two 16-bit/],
      [`${MINIMAL}  - { name: voltage, from: holding.1 }`, 'points[1].name', /named twice/],
      [`${MINIMAL}colour: red`, 'colour', /unknown field/],
      [`${MINIMAL}identify: { address: '(' }`, 'identify.address', /regular expression/],
      [`${MINIMAL}identify: { dis: ['0001'] }`, 'identify.dis[0]', /eight hex/],
      [`${MINIMAL}tests: [{ hex: 'zz', points: {} }]`, 'tests[0].hex', /hex/],
      ['id: Not An Id\ncontracts: [x]', 'id', /lower-case/],
      ['[1, 2]', '', /mapping/],
      ['id: [', '', /YAML/],
    ];
    for (const [source, path, message] of cases) {
      assert.throws(
        () => loadModel(source),
        (err: unknown) => err instanceof ContractError && err.path === path && message.test(err.message),
        `${JSON.stringify(source)} → ${path}`,
      );
    }
  });

  it('a command naming a message its contracts lack is found', () => {
    const m = loadModel(`${MINIMAL}commands: { reset: { message: reboot } }`);
    assert.match(checkModelCommands(m, (id) => builtinContract(id))[0]!, /commands\.reset\.message.*reboot/);
  });

  it('a failing inline test is reported with what differed', () => {
    const m = loadModel(`${MINIMAL}tests:
  - { name: t, hex: '00 01 00 00 00 05 01 03 02 08 FD', points: { voltage: 230 } }`);
    const report = runModelTests(m, (id) => builtinContract(id));
    assert.equal(report.failed, 1);
    assert.match(report.cases[0]!.message!, /voltage: expected 230, got 230\.1/);
  });
});

describe('applying a model', () => {
  const poll = '00 01 00 00 00 19 01 03 16 08 FD 02 00 04 7E 00 00 30 39 13 8A 03 B6 FF 9C 00 01 08 FB 09 06';

  it('names, types, scales and combines registers; unnamed points pass through', () => {
    const decoded = builtinContract('modbus-tcp').decode(bytes(poll));
    assert.ok(decoded.ok);
    const extra = { name: 'holding.42', value: 7 };
    const points = applyModel(builtinModel('sim-power-meter'), [...decoded.points, extra]);
    const byName = Object.fromEntries(points.map((p) => [p.name, [p.value, p.unit]]));
    assert.deepEqual(byName.voltage_l1, [230.1, 'V']);
    assert.deepEqual(byName.energy, [123.45, 'kWh'], 'two registers, high word first');
    assert.deepEqual(byName.temperature, [-10, '°C'], 'i16: 0xFF9C is -100 × 0.1');
    assert.deepEqual(byName.relay, [true, undefined]);
    assert.deepEqual(byName['holding.42'], [7, undefined], 'not in the model: kept');
    assert.equal(byName['holding.0'], undefined, 'a named register is not kept twice');
  });

  it('CDAB word order and a float32 pair', () => {
    const m = loadModel(`id: w
contracts: [modbus-tcp]
points:
  - { name: n, from: [holding.0, holding.1], type: u32, words: CDAB }
  - { name: f, from: [holding.2, holding.3], type: f32 }`);
    const out = applyModel(m, [
      { name: 'holding.0', value: 0x0002 },
      { name: 'holding.1', value: 0x0001 },
      { name: 'holding.2', value: 0x4366 },
      { name: 'holding.3', value: 0x8000 },
    ]);
    assert.deepEqual(
      out.map((p) => [p.name, p.value]),
      [
        ['n', 0x00010002],
        ['f', 230.5],
      ],
    );
  });

  it('a frame carrying only one register of a pair leaves it as it is', () => {
    const out = applyModel(builtinModel('sim-power-meter'), [{ name: 'holding.3', value: 1 }]);
    assert.deepEqual(out, [{ name: 'holding.3', value: 1 }]);
  });
});

describe('identifying the model', () => {
  it('a DL/T 645 meter of the published vectors: any meter after one frame, the simulated one after two', () => {
    const energy = evidenceOf([
      { contract: 'dlt645-2007', hex: vector('dlt645_2007', 'read response, forward').hex },
    ]);
    const first = identifyModel(models(), energy)!;
    assert.deepEqual(
      [first.model, first.confidence],
      ['dlt645-meter', 0.667],
      'contract and its one identifier',
    );
    const sim = scoreModel(builtinModel('sim-energy-meter'), energy);
    assert.equal(sim.confidence, 0.6, 'contract, address and one identifier of two');
    assert.deepEqual(sim.missing, ['di 02010100']);
    const both = evidenceOf([
      { contract: 'dlt645-2007', hex: vector('dlt645_2007', 'read response, forward').hex },
      { contract: 'dlt645-2007', hex: vector('dlt645_2007', 'read response, phase A').hex },
    ]);
    assert.deepEqual(identifyModel(models(), both), {
      model: 'sim-energy-meter',
      confidence: 0.8,
      matched: ['contract dlt645-2007', 'address ^0000000001[0-9]{2}$', 'di 00010000', 'di 02010100'],
      missing: [],
    });
  });

  it('another meter answering a different identifier stays below the bar of a guess', () => {
    const other = evidenceOf([
      { contract: 'dlt645-2007', hex: vector('dlt645_2007', 'read response, combined').hex },
    ]);
    const best = identifyModel(models(), other)!;
    assert.ok(best.confidence < 0.5, `${best.model} ${best.confidence}`);
  });

  it('Modbus registers of the published vectors do not look like the simulated power meter', () => {
    const rtu = evidenceOf([
      { contract: 'modbus-rtu', hex: vector('modbus_rtu', 'read holding registers response').hex },
    ]);
    const best = identifyModel(models(), rtu)!;
    assert.ok(best.confidence <= 0.5, `${best.model} ${best.confidence}`);
  });

  it('the simulated power meter by its register signature; an SDM120 by its float registers', () => {
    const meter = evidenceOf([
      {
        contract: 'modbus-tcp',
        hex: '00 01 00 00 00 19 01 03 16 08 FD 02 00 04 7E 00 00 30 39 13 8A 03 B6 00 D7 00 01 08 FB 09 06',
      },
    ]);
    assert.deepEqual(
      [identifyModel(models(), meter)!.model, identifyModel(models(), meter)!.confidence],
      ['sim-power-meter', 0.833],
    );
    const sdm = evidenceOf([
      { contract: 'modbus-rtu', hex: '01 04 04 43 66 80 00 6F DF', context: { start: 0 } },
      { contract: 'modbus-rtu', hex: '01 04 04 42 48 14 7B 20 C9', context: { start: 70 } },
    ]);
    assert.deepEqual(
      [identifyModel(models(), sdm)!.model, identifyModel(models(), sdm)!.confidence],
      ['eastron-sdm120', 0.75],
    );
  });

  it('a Cayenne LPP frame by its TLV signature', () => {
    const sensor = evidenceOf([
      { contract: 'cayenne-lpp', hex: '01 67 00 D7 02 68 68 03 02 01 68 04 73 27 94' },
    ]);
    assert.equal(identifyModel(models(), sensor)!.model, 'sim-environment-sensor');
  });

  it('two models that fit equally well: the confidence is halved', () => {
    const twin = loadModel(
      builtinModel('sim-energy-meter').source.replace('id: sim-energy-meter', 'id: twin'),
    );
    const evidence = evidenceOf([
      { contract: 'dlt645-2007', hex: vector('dlt645_2007', 'read response, forward').hex },
      { contract: 'dlt645-2007', hex: vector('dlt645_2007', 'read response, phase A').hex },
    ]);
    assert.equal(identifyModel([...models(), twin], evidence)!.confidence, 0.4);
  });
});

describe('catalog', () => {
  it('the hash is of the text, whatever its line endings', () => {
    assert.equal(catalogHash('a\r\nb\n'), catalogHash('a\nb\n'));
    assert.notEqual(catalogHash('a\nb'), catalogHash('a\nc'));
    assert.match(catalogHash('x'), /^sha256:[0-9a-f]{64}$/);
  });

  it('a birth may carry a catalog; catalog and catalog-request are checked', () => {
    const item = { kind: 'model', id: 'm', version: '1', hash: 'sha256:00' };
    const birth = { v: 1, k: 'birth', gw: 'g', seq: 1, ts: 1, epoch: 'e', devices: [] };
    validateEnvelope(birth);
    validateEnvelope({ ...birth, catalog: [item] });
    assert.throws(
      () => validateEnvelope({ ...birth, catalog: [{ ...item, kind: 'rule' }] }),
      (err: unknown) => err instanceof EnvelopeError && err.field === 'catalog[0].kind',
    );
    validateEnvelope({ v: 1, k: 'catalog', gw: 'g', seq: 2, ts: 1, items: [{ ...item, source: 'id: m' }] });
    assert.throws(
      () => validateEnvelope({ v: 1, k: 'catalog', gw: 'g', seq: 2, ts: 1, items: [item] }),
      (err: unknown) => err instanceof EnvelopeError && err.field === 'items[0].source',
    );
    assert.throws(
      () => validateEnvelope({ v: 1, k: 'catalog-request', gw: 'g', ts: 1, items: [] }),
      (err: unknown) => err instanceof EnvelopeError && err.field === 'items',
    );
  });
});
