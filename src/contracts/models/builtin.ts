// Built-in device models, shipped as YAML next to this file (the simulated devices and a few common
// meters), parsed once on first use.
import { readFileSync } from 'node:fs';
import { ContractError } from '../errors.ts';
import { loadModel } from './load.ts';
import type { DeviceModel } from './types.ts';

const BUILTIN_IDS = [
  'sim-power-meter',
  'sim-energy-meter',
  'sim-environment-sensor',
  'acme-th10',
  'eastron-sdm120',
  'dlt645-meter',
] as const;

const cache = new Map<string, DeviceModel>();

export function listBuiltinModels(): string[] {
  return [...BUILTIN_IDS];
}

export function builtinModelSource(id: string): string {
  if (!(BUILTIN_IDS as readonly string[]).includes(id))
    throw new ContractError('', `no built-in model '${id}' (built-ins: ${BUILTIN_IDS.join(', ')})`);
  return readFileSync(new URL(`./builtin-models/${id}.yaml`, import.meta.url), 'utf8');
}

export function builtinModel(id: string): DeviceModel {
  let m = cache.get(id);
  if (!m) {
    m = loadModel(builtinModelSource(id));
    cache.set(id, m);
  }
  return m;
}
