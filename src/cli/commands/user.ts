// `mqiot user add|passwd|remove|list`: people who may sign in to the HTTP API and dashboard, managed
// directly in the platform store (SQLite file or PostgreSQL), also while a server uses it.
import { isRole, MIN_PASSWORD_LENGTH, ROLES, userAdmin, type Role } from '../../app/commands/users.ts';
import {
  openPlatformStore,
  PlatformError,
  SQLITE_FILE,
  type PlatformStore,
} from '../../app/commands/platform-store.ts';
import { StartError } from '../../app/start-error.ts';
import { parseCommandArgs } from '../args.ts';
import { CliError } from '../errors.ts';
import { askPassword } from '../prompt.ts';

export const summary =
  'manage the people who sign in to the HTTP API and dashboard (add, passwd, remove, list)';

export const PASSWORD_ENV = 'MQIOT_USER_PASSWORD';

const HELP = `usage: mqiot user add NAME [--role ROLE]   create a user (default role: viewer)
       mqiot user passwd NAME             set a new password (signs the user out everywhere)
       mqiot user role NAME ROLE          change the role
       mqiot user remove NAME             delete the user and their tokens
       mqiot user list                    users and roles

Works on the platform store directly, also while mqiot up / cloud / edge runs on it.
Roles: ${ROLES.join(', ')}. Passwords: at least ${MIN_PASSWORD_LENGTH} characters, from $${PASSWORD_ENV},
else asked twice on a terminal, else the first line of standard input:
  echo "$NEW_PASSWORD" | mqiot user add alice --role operator --data-dir /var/lib/mqiot

options:
  --role ROLE         role of a new user (viewer, operator, admin)
  --data-dir DIR      the SQLite store DIR/${SQLITE_FILE} (default ./data), as for mqiot up
  --postgres URL      the PostgreSQL store instead
  -h, --help          show this help`;

const OPTIONS = {
  role: { type: 'string' },
  'data-dir': { type: 'string' },
  postgres: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function openStore(values: { 'data-dir'?: string; postgres?: string }): Promise<PlatformStore> {
  if (values.postgres !== undefined && !/^postgres(ql)?:\/\//.test(values.postgres))
    throw new CliError(`user: --postgres expects a postgres:// URL, got '${values.postgres}'`, 2);
  try {
    return await openPlatformStore({ dataDir: values['data-dir'], postgresUrl: values.postgres });
  } catch (err) {
    if (err instanceof StartError) throw new CliError(`user: ${err.message}`, 1, { cause: err });
    throw err;
  }
}

async function newPassword(): Promise<string> {
  return process.env[PASSWORD_ENV] || (await askPassword('user'));
}

function role(value: string | undefined): Role {
  if (!isRole(value))
    throw new CliError(`user: role: expected one of ${ROLES.join(', ')}, got '${value ?? ''}'`, 2);
  return value;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('user', argv, OPTIONS, true);
  if (values.help === true || positionals.length === 0) {
    console.log(HELP);
    return values.help === true ? 0 : 2;
  }
  const [action, name, extra] = positionals as [string, string | undefined, string | undefined];
  const needsName = ['add', 'passwd', 'remove', 'role'];
  if (!needsName.includes(action) && action !== 'list')
    throw new CliError(`user: unknown action '${action}' (add, passwd, role, remove, list)`, 2);
  if (needsName.includes(action) && !name) throw new CliError(`user ${action}: expected a user name`, 2);
  // ask before opening the store: nothing is held open while someone types
  const password = action === 'add' || action === 'passwd' ? await newPassword() : undefined;
  const newRole =
    action === 'role' ? role(extra) : action === 'add' ? role(values.role ?? 'viewer') : undefined;
  const store = await openStore(values);
  const auth = userAdmin(store);
  try {
    if (action === 'list') {
      for (const u of await auth.listUsers()) console.log(`${u.username}\t${u.role}`);
    } else if (action === 'add') {
      await auth.createUser({ username: name!, password: password!, role: newRole! });
      console.error(`user '${name}' added (${newRole})`);
    } else if (action === 'passwd') {
      await auth.updateUser(name!, { password });
      console.error(`password of '${name}' changed; their sessions ended`);
    } else if (action === 'role') {
      await auth.updateUser(name!, { role: newRole });
      console.error(`'${name}' is now ${newRole}`);
    } else {
      await auth.deleteUser(name!);
      console.error(`user '${name}' removed`);
    }
    return 0;
  } catch (err) {
    if (err instanceof PlatformError)
      throw new CliError(`user: ${err.message}`, err.code === 'not_found' ? 1 : 2);
    throw err;
  } finally {
    await store.close();
  }
}
