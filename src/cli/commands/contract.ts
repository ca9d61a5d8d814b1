// `mqiot contract check|decode|encode|list`: validate, test and try data parsing contracts without code.
import { readFileSync } from 'node:fs';
import { stringify as toYaml } from 'yaml';
import {
  ContractError,
  builtinContract,
  listBuiltinContracts,
  loadContract,
  type Contract,
} from '../../contracts/index.ts';
import { parseHex, toHexString } from '../../contracts/primitives.ts';
import { parseCommandArgs } from '../args.ts';
import { CliError } from '../errors.ts';

export const summary = 'check, decode with and encode with data parsing contracts';

const USAGE = `usage:
  mqiot contract list                                   built-in contracts and their messages
  mqiot contract check FILE                             validate a contract and run its inline tests
  mqiot contract decode FILE|BUILTIN HEX [--context JSON] [--json]
  mqiot contract encode FILE|BUILTIN MESSAGE [JSON]     build a frame from parameters (JSON object)`;

/** FILE or a built-in id → compiled contract; contract errors name the path inside the document. */
function open(ref: string, runTests: boolean): Contract {
  if (listBuiltinContracts().includes(ref)) return builtinContract(ref);
  let text: string;
  try {
    text = readFileSync(ref, 'utf8');
  } catch (err) {
    throw new CliError(
      `contract: cannot read '${ref}' (${(err as Error).message}); built-ins: ${listBuiltinContracts().join(', ')}`,
      2,
      { cause: err },
    );
  }
  try {
    return loadContract(text, { runTests });
  } catch (err) {
    if (err instanceof ContractError)
      throw new CliError(`contract: ${ref}: ${err.message}`, 1, { cause: err });
    throw err;
  }
}

function parseJson(text: string, what: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('expected a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`contract: ${what} is not a JSON object: ${(err as Error).message}`, 2, {
      cause: err,
    });
  }
}

function check(file: string): number {
  const c = open(file, false);
  const report = c.runTests();
  console.log(`${c.id} ${c.version}${c.name ? ` — ${c.name}` : ''}: valid`);
  if (c.messages.length > 0) console.log(`messages: ${c.messages.join(', ')}`);
  for (const t of report.cases)
    console.log(`  ${t.ok ? 'ok  ' : 'FAIL'} ${t.name}${t.ok ? '' : `\n       ${t.message ?? ''}`}`);
  console.log(`${report.passed} passed, ${report.failed} failed`);
  return report.failed === 0 ? 0 : 1;
}

function decode(ref: string, hexText: string, contextText: string | undefined, json: boolean): number {
  const c = open(ref, false);
  let frame: Uint8Array;
  try {
    frame = parseHex(hexText);
  } catch (err) {
    throw new CliError(`contract: ${(err as Error).message}`, 2, { cause: err });
  }
  const ctx = contextText === undefined ? undefined : parseJson(contextText, '--context');
  const r = c.decode(frame, ctx);
  if (json) {
    console.log(JSON.stringify(r, null, 2));
    return r.ok ? 0 : 1;
  }
  if (!r.ok) {
    const at = r.error.offset;
    const bytes = toHexString(frame, 0, frame.length, false).match(/../g) ?? [];
    console.error(`decode failed at byte ${at}: ${r.error.reason}`);
    console.error(`  ${bytes.join(' ')}`);
    console.error(`  ${' '.repeat(Math.min(at, bytes.length) * 3)}^`);
    return 1;
  }
  console.log(`${c.id}: ${frame.length} bytes`);
  console.log(toYaml(r.fields).trimEnd());
  if (r.points.length > 0) {
    console.log('points:');
    const width = Math.max(...r.points.map((p) => p.name.length));
    for (const p of r.points)
      console.log(`  ${p.name.padEnd(width)}  ${String(p.value)}${p.unit ? ` ${p.unit}` : ''}`);
  }
  return 0;
}

function encode(ref: string, message: string, paramsText: string | undefined): number {
  const c = open(ref, false);
  const params = paramsText === undefined ? {} : parseJson(paramsText, 'the parameters');
  try {
    const frame = c.encode(message, params);
    console.log((toHexString(frame, 0, frame.length, false).match(/../g) ?? []).join(' '));
    return 0;
  } catch (err) {
    if (err instanceof ContractError) throw new CliError(`contract: ${err.message}`, 1, { cause: err });
    throw err;
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'contract',
    argv,
    { context: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    true,
  );
  const [sub, ...args] = positionals;
  if (values.help || !sub) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  switch (sub) {
    case 'list':
      for (const id of listBuiltinContracts()) {
        const c = builtinContract(id);
        console.log(
          `${id.padEnd(12)} ${c.name ?? ''}${c.messages.length ? `\n${' '.repeat(13)}messages: ${c.messages.join(', ')}` : ''}`,
        );
      }
      return 0;
    case 'check':
      if (args.length !== 1) throw new CliError(`contract check: expected FILE\n${USAGE}`);
      return check(args[0]!);
    case 'decode':
      if (args.length !== 2) throw new CliError(`contract decode: expected FILE|BUILTIN and HEX\n${USAGE}`);
      return decode(args[0]!, args[1]!, values.context, values.json === true);
    case 'encode':
      if (args.length < 2 || args.length > 3)
        throw new CliError(`contract encode: expected FILE|BUILTIN MESSAGE [JSON]\n${USAGE}`);
      return encode(args[0]!, args[1]!, args[2]);
  }
  throw new CliError(`contract: unknown subcommand '${sub}'\n${USAGE}`);
}
