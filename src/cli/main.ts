// The `mqiot` command: one entry point, one module per subcommand under ./commands.
// Each command module exports `run(argv: string[]): Promise<number | void>`.
import { CliError } from './errors.ts';

type CommandModule = { run(argv: string[]): Promise<number | void>; summary: string };

const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  up: () => import('./commands/up.ts'),
  broker: () => import('./commands/broker.ts'),
  edge: () => import('./commands/edge.ts'),
  cloud: () => import('./commands/cloud.ts'),
  gateway: () => import('./commands/gateway.ts'),
  access: () => import('./commands/access.ts'),
  sim: () => import('./commands/sim.ts'),
  contract: () => import('./commands/contract.ts'),
  passwd: () => import('./commands/passwd.ts'),
  user: () => import('./commands/user.ts'),
  gateways: () => import('./commands/gateways.ts'),
};

function usage(): string {
  return [
    'usage: mqiot <command> [options]',
    '',
    'commands:',
    ...Object.keys(COMMANDS).map((name) => `  ${name}`),
    '',
    "run 'mqiot <command> --help' for a command's options",
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`mqiot: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const command = await load();
  return (await command.run(rest)) ?? 0;
}

/** Errors that name the user's file and problem; by name, so this file loads no broker or SQLite code. */
const STARTUP_ERRORS = new Set(['AuthFileError', 'SqliteStoreError', 'ConfigError', 'TlsFileError']);

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof CliError) {
      console.error(`mqiot: ${err.message}`);
      process.exitCode = err.exitCode;
    } else if (err instanceof Error && STARTUP_ERRORS.has(err.name)) {
      // a file the user pointed at is unusable (an auth file's line, a store another broker holds):
      // its message says which and why, whichever command opened it
      console.error(`mqiot: ${err.message}`);
      process.exitCode = 1;
    } else {
      console.error(err);
      process.exitCode = 1;
    }
  },
);
