import { parse as parseYaml } from 'yaml';
import { CompiledContract } from './contract.ts';
import { ContractError } from './errors.ts';
import type { Contract } from './types.ts';

/** Parses (YAML or JSON text, or an object), validates and compiles a contract; throws ContractError(path, …). */
export function loadContract(
  source: string | object,
  options?: {
    runTests?: boolean;
    /** false: interpret the closure plan instead of generating code (for differential tests and debugging) */
    generate?: boolean;
  },
): Contract {
  let doc: unknown = source;
  if (typeof source === 'string') {
    try {
      doc = parseYaml(source); // YAML is a superset of JSON
    } catch (err) {
      throw new ContractError('', `not valid YAML/JSON: ${(err as Error).message}`, { cause: err });
    }
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new ContractError('', 'a contract is a mapping with id, seq, …');
  const contract = new CompiledContract(doc as Record<string, unknown>, { generate: options?.generate });
  if (options?.runTests !== false) {
    const report = contract.runTests();
    const bad = report.cases.find((c) => !c.ok);
    if (bad)
      throw new ContractError(
        `tests[${report.cases.indexOf(bad)}]`,
        `'${bad.name}' failed: ${bad.message ?? ''}`,
      );
  }
  return contract;
}
