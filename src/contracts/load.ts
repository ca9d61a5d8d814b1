import { ContractError } from './errors.ts';
import type { Contract } from './types.ts';

export function loadContract(_source: string | object, _options?: { runTests?: boolean }): Contract {
  throw new ContractError('', 'compiler not built yet');
}
