import { CliError } from '../errors.ts';

export const summary = 'run the MQTT broker alone';

export async function run(_argv: string[]): Promise<number> {
  throw new CliError('broker: not built yet');
}
