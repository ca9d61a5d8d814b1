import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './errors.ts';

/** node:util parseArgs with errors turned into CliError (exit code 2, no stack trace). */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  command: string,
  argv: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new CliError(`${command}: ${(err as Error).message}`, 2, { cause: err });
  }
}

/** A whole-number flag within [min, max]; undefined when the flag was not given. */
export function intFlag(
  command: string,
  flag: string,
  value: string | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new CliError(`${command}: --${flag} expects a whole number ${min}..${max}, got '${value}'`);
  }
  return n;
}

/** A port flag; `off` (where the listener may be turned off) is null. Undefined when not given. */
export function portFlag(
  command: string,
  flag: string,
  value: string | undefined,
  allowOff: boolean,
): number | null | undefined {
  if (value !== undefined && allowOff && /^(off|none)$/i.test(value)) return null;
  return intFlag(command, flag, value, 0, 65535);
}
