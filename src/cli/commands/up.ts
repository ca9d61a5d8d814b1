import { CliError } from '../errors.ts';

export const summary = 'not built yet';

export async function run(_argv: string[]): Promise<number> {
  throw new CliError('up: not built yet');
}
