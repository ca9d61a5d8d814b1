// `mqiot passwd FILE USER`: add or change a user in a Mosquitto password file (like mosquitto_passwd).
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import {
  checkUsername,
  DEFAULT_PBKDF2_ITERATIONS,
  hashPassword,
  setPasswordLine,
} from '../../broker/auth/index.ts';
import { parseCommandArgs } from '../args.ts';
import { CliError } from '../errors.ts';

export const summary = 'add or change a user in a password file (Mosquitto format, for --password-file)';

const HELP = `usage: mqiot passwd FILE USERNAME [--password PASSWORD]

Sets USERNAME's password in FILE, a Mosquitto password file (created if missing, mode 0600), as
mosquitto_passwd does: $7$ = PBKDF2-SHA512, ${DEFAULT_PBKDF2_ITERATIONS} iterations, random salt.
Without --password the password is read from the first line of standard input, so it stays out of
the shell history:  echo "$DEVICE_SECRET" | mqiot passwd /etc/mqiot/passwd gw-site-a

options:
  --password PASSWORD   the password (visible in the process list: prefer stdin)
  -h, --help            show this help

A running broker reads the file again on SIGHUP.`;

const OPTIONS = {
  password: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function readStdinLine(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('password: ');
  let text = '';
  for await (const chunk of process.stdin) {
    text += (chunk as Buffer).toString('utf8');
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0]!;
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
  const password = values.password ?? (await readStdinLine());
  if (password === '') throw new CliError('passwd: the password is empty', 2);
  let text = '';
  if (existsSync(file)) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new CliError(`passwd: cannot read ${file}: ${(err as Error).message}`, 1, { cause: err });
    }
  }
  const updated = setPasswordLine(text, username, await hashPassword(password));
  // write beside, then rename: a broker reloading on SIGHUP never reads half a file
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, updated, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  } catch (err) {
    throw new CliError(`passwd: cannot write ${file}: ${(err as Error).message}`, 1, { cause: err });
  }
  console.error(`${file}: password set for '${username}'`);
  return 0;
}
