// A model's inline tests: each frame is decoded with its contract, passed through the model, and the
// named points compared with the expected ones. Run before an upload is accepted, as for contracts.
import type { Contract, ContractTestReport } from '../types.ts';
import { applyModel } from './apply.ts';
import type { DeviceModel } from './types.ts';

export function runModelTests(
  model: DeviceModel,
  contractOf: (id: string) => Contract | undefined,
): ContractTestReport {
  const cases = model.tests.map((t) => {
    const contract = contractOf(t.contract);
    if (!contract) return { name: t.name, ok: false, message: `unknown contract '${t.contract}'` };
    const decoded = contract.decode(Buffer.from(t.hex, 'hex'), t.context);
    if (!decoded.ok)
      return { name: t.name, ok: false, message: `frame does not decode: ${decoded.error.reason}` };
    const points = new Map(applyModel(model, decoded.points).map((p) => [p.name, p]));
    for (const [name, want] of Object.entries(t.points)) {
      const got = points.get(name);
      const expect =
        typeof want === 'object' && want !== null
          ? (want as { value?: unknown; unit?: string })
          : { value: want };
      if (!got)
        return {
          name: t.name,
          ok: false,
          message: `no point '${name}' (got: ${[...points.keys()].join(', ')})`,
        };
      if (expect.value !== undefined && got.value !== expect.value)
        return {
          name: t.name,
          ok: false,
          message: `${name}: expected ${String(expect.value)}, got ${String(got.value)}`,
        };
      if (expect.unit !== undefined && got.unit !== expect.unit)
        return {
          name: t.name,
          ok: false,
          message: `${name}: expected unit ${expect.unit}, got ${got.unit ?? 'none'}`,
        };
    }
    return { name: t.name, ok: true };
  });
  const failed = cases.filter((c) => !c.ok).length;
  return { contract: model.id, passed: cases.length - failed, failed, cases };
}

/** Which commands name a message none of the model's contracts encodes (typos found at upload). */
export function checkModelCommands(
  model: DeviceModel,
  contractOf: (id: string) => Contract | undefined,
): string[] {
  const problems: string[] = [];
  for (const command of model.commands) {
    const speaks = model.contracts.some((id) => contractOf(id)?.messages.includes(command.message));
    if (!speaks)
      problems.push(
        `commands.${command.name}.message: no contract of this model has message '${command.message}'`,
      );
  }
  return problems;
}
