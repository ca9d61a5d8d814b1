// Which contract each device speaks: built-in ids or contract files, checked once at start.
import { readFileSync } from 'node:fs';
import { builtinContract, loadContract, type Contract } from '../contracts/index.ts';
import { GatewayConfigError, type GatewayConfig } from './config.ts';

/**
 * Resolves every device's contract and checks that its poll messages exist, so a typo fails at start
 * with the field named, not at the first poll.
 */
export function resolveContracts(
  config: GatewayConfig,
  resolve: (ref: string) => Contract = defaultContract,
  source = 'config',
): Map<string, Contract> {
  const out = new Map<string, Contract>();
  config.devices.forEach((dc, i) => {
    let contract: Contract;
    try {
      contract = resolve(dc.contract);
    } catch (err) {
      throw new GatewayConfigError(`devices[${i}].contract`, (err as Error).message, 'config', {
        cause: err,
      });
    }
    dc.poll.forEach((p, j) => {
      if (!contract.messages.includes(p.message))
        throw new GatewayConfigError(
          `devices[${i}].poll[${j}].message`,
          `contract '${contract.id}' has no message '${p.message}' (has: ${contract.messages.join(', ') || 'none'})`,
          source,
        );
    });
    out.set(dc.id, contract);
  });
  return out;
}

export function defaultContract(ref: string): Contract {
  return /\.(ya?ml|json)$/i.test(ref) ? loadContract(readFileSync(ref, 'utf8')) : builtinContract(ref);
}
