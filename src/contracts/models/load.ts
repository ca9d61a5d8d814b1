// Parses and checks a device model document (YAML or JSON). Every problem is a ContractError naming
// the place (`points[2].scale`), so the dashboard's editor and the API can point at it.
import { parse as parseYaml } from 'yaml';
import { ContractError } from '../errors.ts';
import type {
  DeviceModel,
  ModelCommand,
  ModelPoint,
  ModelPointType,
  ModelSignature,
  ModelTest,
} from './types.ts';

const ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const POINT_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
const TYPES: readonly ModelPointType[] = ['u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'number', 'string'];
const TWO_WORDS = new Set<ModelPointType>(['u32', 'i32', 'f32']);
const TOP_KEYS = [
  'id',
  'version',
  'name',
  'manufacturer',
  'description',
  'contracts',
  'points',
  'commands',
  'identify',
  'tests',
];

type Doc = Record<string, unknown>;

/** Parses (YAML or JSON text) and checks a model; throws ContractError(path, …) on the first problem. */
export function loadModel(source: string): DeviceModel {
  let doc: unknown;
  try {
    doc = parseYaml(source);
  } catch (err) {
    throw new ContractError('', `not valid YAML/JSON: ${(err as Error).message}`, { cause: err });
  }
  const m = mapping(doc, '', 'a device model is a mapping with id, version, contracts, points, …');
  known(m, TOP_KEYS, '');
  const id = text(m.id, 'id');
  if (!ID.test(id)) throw new ContractError('id', 'lower-case letters, digits, . _ - (at most 64)');
  const contracts = list(m.contracts, 'contracts').map((c, i) => text(c, `contracts[${i}]`));
  if (contracts.length === 0) throw new ContractError('contracts', 'name at least one contract');
  const points = list(m.points ?? [], 'points').map((p, i) => point(p, `points[${i}]`));
  const names = new Set<string>();
  points.forEach((p, i) => {
    if (names.has(p.name)) throw new ContractError(`points[${i}].name`, `'${p.name}' is named twice`);
    names.add(p.name);
  });
  const commands = Object.entries(mapping(m.commands ?? {}, 'commands')).map(([name, c]) =>
    command(name, c, `commands.${name}`),
  );
  return {
    id,
    version: text(m.version ?? '1.0.0', 'version'),
    ...optText(m, 'name'),
    ...optText(m, 'manufacturer'),
    ...optText(m, 'description'),
    contracts,
    points,
    commands,
    identify: signature(m.identify ?? {}, 'identify'),
    tests: list(m.tests ?? [], 'tests').map((t, i) => test(t, `tests[${i}]`, contracts[0]!)),
    source,
  };
}

function point(value: unknown, path: string): ModelPoint {
  const p = mapping(value, path);
  known(p, ['name', 'from', 'type', 'words', 'scale', 'offset', 'unit', 'description'], path);
  const name = text(p.name, `${path}.name`);
  if (!POINT_NAME.test(name)) throw new ContractError(`${path}.name`, 'letters, digits, _ . : - only');
  const from = typeof p.from === 'string' ? [p.from] : list(p.from, `${path}.from`);
  const sources = from.map((f, i) => text(f, `${path}.from[${i}]`));
  const type = (p.type ?? (sources.length === 2 ? 'u32' : 'number')) as ModelPointType;
  if (!TYPES.includes(type)) throw new ContractError(`${path}.type`, `one of ${TYPES.join(', ')}`);
  const wanted = TWO_WORDS.has(type) ? 2 : 1;
  if (sources.length !== wanted)
    throw new ContractError(
      `${path}.from`,
      `type ${type} takes ${wanted === 2 ? 'two 16-bit registers' : 'one point'}`,
    );
  const words = p.words ?? 'ABCD';
  if (words !== 'ABCD' && words !== 'CDAB') throw new ContractError(`${path}.words`, 'ABCD or CDAB');
  return {
    name,
    from: sources,
    type,
    words,
    scale: num(p.scale ?? 1, `${path}.scale`),
    offset: num(p.offset ?? 0, `${path}.offset`),
    ...optText(p, 'unit', path),
    ...optText(p, 'description', path),
  };
}

function command(name: string, value: unknown, path: string): ModelCommand {
  if (!ID.test(name)) throw new ContractError(path, 'a command name is lower-case letters, digits, . _ -');
  const c = mapping(value, path);
  known(c, ['message', 'params', 'description'], path);
  return {
    name,
    message: text(c.message, `${path}.message`),
    params: { ...mapping(c.params ?? {}, `${path}.params`) },
    ...optText(c, 'description', path),
  };
}

function signature(value: unknown, path: string): ModelSignature {
  const s = mapping(value, path);
  known(s, ['address', 'dis', 'points', 'fields'], path);
  let address: RegExp | undefined;
  if (s.address !== undefined) {
    try {
      address = new RegExp(text(s.address, `${path}.address`), 'i');
    } catch (err) {
      throw new ContractError(`${path}.address`, `not a regular expression: ${(err as Error).message}`);
    }
  }
  const dis = list(s.dis ?? [], `${path}.dis`).map((d, i) => {
    const di = text(String(d), `${path}.dis[${i}]`).toUpperCase();
    if (!/^[0-9A-F]{8}$/.test(di)) throw new ContractError(`${path}.dis[${i}]`, 'eight hex digits');
    return di;
  });
  const points = Object.entries(mapping(s.points ?? {}, `${path}.points`)).map(([name, range]) => {
    const where = `${path}.points.${name}`;
    if (range === null || range === true) return { name };
    const r = mapping(range, where);
    known(r, ['min', 'max'], where);
    return {
      name,
      ...(r.min !== undefined ? { min: num(r.min, `${where}.min`) } : {}),
      ...(r.max !== undefined ? { max: num(r.max, `${where}.max`) } : {}),
    };
  });
  const fields: Record<string, string | number | boolean> = {};
  for (const [key, v] of Object.entries(mapping(s.fields ?? {}, `${path}.fields`))) {
    if (!['string', 'number', 'boolean'].includes(typeof v))
      throw new ContractError(`${path}.fields.${key}`, 'a string, number or boolean');
    fields[key] = v as string | number | boolean;
  }
  return { ...(address ? { address } : {}), dis, points, fields };
}

function test(value: unknown, path: string, contract: string): ModelTest {
  const t = mapping(value, path);
  known(t, ['name', 'contract', 'hex', 'context', 'points'], path);
  const hex = text(t.hex, `${path}.hex`).replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) throw new ContractError(`${path}.hex`, 'hex bytes');
  return {
    name: text(t.name ?? path, `${path}.name`),
    contract: text(t.contract ?? contract, `${path}.contract`),
    hex,
    ...(t.context !== undefined ? { context: { ...mapping(t.context, `${path}.context`) } } : {}),
    points: { ...mapping(t.points, `${path}.points`) },
  };
}

function mapping(value: unknown, path: string, message = 'must be a mapping'): Doc {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ContractError(path, message);
  return value as Doc;
}
function list(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw new ContractError(path, 'must be a list');
  return value;
}
function text(value: unknown, path: string): string {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string' || value.length === 0)
    throw new ContractError(path, 'must be a non-empty string');
  return value;
}
function optText(m: Doc, key: string, path = ''): Record<string, string> {
  return m[key] === undefined ? {} : { [key]: text(m[key], path ? `${path}.${key}` : key) };
}
function num(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new ContractError(path, 'must be a number');
  return value;
}
function known(m: Doc, keys: readonly string[], path: string): void {
  for (const key of Object.keys(m))
    if (!keys.includes(key))
      throw new ContractError(path ? `${path}.${key}` : key, `unknown field (known: ${keys.join(', ')})`);
}
