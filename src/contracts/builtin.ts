// Built-in contracts shipped as YAML next to this file, compiled once on first use.
import { readFileSync } from 'node:fs';
import { ContractError } from './errors.ts';
import { loadContract } from './load.ts';
import type { Contract } from './types.ts';

// Order matters for detection: contracts with strong framing (markers, checksums) come first.
const BUILTIN_IDS = ['dlt645-2007', 'modbus-rtu', 'modbus-tcp', 'acme-th10', 'cayenne-lpp'] as const;

const cache = new Map<string, Contract>();

export function listBuiltinContracts(): string[] {
  return [...BUILTIN_IDS];
}

/** The YAML source of a built-in contract (for `mqiot contract` and the web editor). */
export function builtinContractSource(id: string): string {
  if (!(BUILTIN_IDS as readonly string[]).includes(id))
    throw new ContractError('', `no built-in contract '${id}' (built-ins: ${BUILTIN_IDS.join(', ')})`);
  return readFileSync(new URL(`./builtin/${id}.yaml`, import.meta.url), 'utf8');
}

export function builtinContract(id: string): Contract {
  let c = cache.get(id);
  if (!c) {
    c = loadContract(builtinContractSource(id), { runTests: false });
    cache.set(id, c);
  }
  return c;
}
