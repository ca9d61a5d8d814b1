// Data parsing contracts: declarative decoding and encoding of device frames (docs/contracts.md).
export type {
  Contract,
  DecodeResult,
  Point,
  SplitResult,
  ContractTestReport,
  ContractTestCase,
} from './types.ts';
export { ContractError, DecodeReason } from './errors.ts';
export { loadContract } from './load.ts';
export { builtinContract, builtinContractSource, listBuiltinContracts } from './builtin.ts';
import type { Contract } from './types.ts';
import { builtinContract, listBuiltinContracts } from './builtin.ts';

/** The first candidate (all built-ins by default) whose framing and checksum say the frame is its kind. */
export function detectContract(frame: Uint8Array, candidates?: Contract[]): Contract | undefined {
  const list = candidates ?? listBuiltinContracts().map((id) => builtinContract(id));
  for (const contract of list) if (contract.detect(frame)) return contract;
  return undefined;
}
