// `mqiot passwd FILE USER`: add, change or delete a user in a Mosquitto password file (like
// mosquitto_passwd), for `mqiot broker --password-file`.
import { existsSync, readFileSync } from 'node:fs';
import {
  checkUsername,
  DEFAULT_PBKDF2_ITERATIONS,
  hashPassword,
  removePasswordLine,
  setPasswordLine,
} from '../../app/commands/password-file.ts';
import { parseCommandArgs } from '../args.ts';
import { CliError } from '../errors.ts';
import { writeSecretFile } from '../secret-file.ts';
import { askPassword } from '../prompt.ts';

export const summary =
  'add, change or delete a user in a password file (Mosquitto format, for --password-file)';

const HELP = `usage: mqiot passwd FILE USERNAME [--password PASSWORD]
       mqiot passwd FILE USERNAME --delete

Sets USERNAME's password in FILE, a Mosquitto password file (created if missing, mode 0600), as
mosquitto_passwd does: $7$ = PBKDF2-SHA512, ${DEFAULT_PBKDF2_ITERATIONS} iterations, random salt.
Without --password the password is asked for twice on a terminal (not echoed), or read from the
first line of standard input, so it stays out of the shell history:
  echo "$DEVICE_SECRET" | mqiot passwd /etc/mqiot/passwd gw-site-a

options:
  --password PASSWORD   the password (visible in the process list: prefer stdin)
  -D, --delete          remove USERNAME from FILE
  -h, --help            show this help

A running broker reads the file again on SIGHUP.`;

const OPTIONS = {
  password: { type: 'string' },
  delete: { type: 'boolean', short: 'D' },
  help: { type: 'boolean', short: 'h' },
} as const;

function readFile(file: string): string {
  if (!existsSync(file)) return '';
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`passwd: cannot read ${file}: ${(err as Error).message}`, 1, { cause: err });
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('passwd', argv, OPTIONS, true);
  if (values.help === true) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length !== 2) throw new CliError(`passwd: expected FILE and USERNAME\n\n${HELP}`, 2);
  const [file, username] = positionals as [string, string];
  const problem = checkUsername(username);
  if (problem !== undefined) throw new CliError(`passwd: ${problem}`, 2);
  if (values.delete === true) {
    const updated = removePasswordLine(readFile(file), username);
    if (updated === undefined) throw new CliError(`passwd: ${file} has no user '${username}'`, 1);
    writeSecretFile('passwd', file, updated);
    console.error(`${file}: user '${username}' deleted`);
    return 0;
  }
  const password = values.password ?? (await askPassword('passwd'));
  if (password === '') throw new CliError('passwd: the password is empty', 2);
  writeSecretFile('passwd', file, setPasswordLine(readFile(file), username, await hashPassword(password)));
  console.error(`${file}: password set for '${username}'`);
  return 0;
}
