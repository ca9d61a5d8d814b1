import { ContractError } from './errors.ts';
import type { Contract } from './types.ts';

export function listBuiltinContracts(): string[] {
  return ['dlt645-2007', 'modbus-rtu', 'modbus-tcp', 'cayenne-lpp'];
}

export function builtinContract(id: string): Contract {
  throw new ContractError('', `built-in contract '${id}' not built yet`);
}
