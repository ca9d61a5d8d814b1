// `mqiot gateways`: gateway credentials issued by the platform, worked directly on its store (the SQLite
// file under --data-dir or --postgres URL, the same flags as `mqiot up`/`cloud`). A running server sees
// the change at once for new CONNECTs and cuts connections made with old credentials within seconds.
import { existsSync, readFileSync } from 'node:fs';
import {
  checkGatewayId,
  CREDENTIAL_SWEEP_MS,
  GatewayCredentialAdmin,
} from '../../app/commands/gateway-credentials.ts';
import {
  openPlatformStore,
  PlatformError,
  SQLITE_FILE,
  type PlatformStore,
} from '../../app/commands/platform-store.ts';
import { StartError } from '../../app/start-error.ts';
import { parseCommandArgs } from '../args.ts';
import { CliError } from '../errors.ts';
import { writeSecretFile } from '../secret-file.ts';

export const summary = 'issue, rotate, revoke, list and export gateway MQTT credentials';

const HELP = `usage: mqiot gateways <action> [ID] [options]

Gateway credentials issued by the platform (username gw-<ID>, a random secret shown once and stored
as a Mosquitto $7$ hash), worked directly on the platform's store.

actions:
  add ID                  register gateway ID and issue its credentials (fails if it has some)
  rotate ID               new secret; the old one stops working
  revoke ID               remove its credentials; the gateway can no longer connect
  list                    gateways with credentials
  export-passwd           write Mosquitto password (and ACL) files for an external broker

options:
  --data-dir DIR          the SQLite store DIR/${SQLITE_FILE} (default ./data), as 'mqiot up --data-dir'
  --postgres URL          the PostgreSQL store instead, as 'mqiot up --postgres'
  --json                  add/rotate/revoke/list: print JSON
  --passwd FILE           export-passwd: the password file to write (lines of other users are kept)
  --acl FILE              export-passwd: also write an ACL file confining each gateway to its topics
  --platform-user NAME    export-passwd: grant NAME (the user 'mqiot cloud --broker' logs in as) the
                          platform's topics in the ACL file
  -h, --help              show this help

A running mqiot up/cloud/edge checks every CONNECT against the store, and cuts connections made with
rotated or revoked credentials within ${CREDENTIAL_SWEEP_MS / 1000} s (through the API: at once).`;

const OPTIONS = {
  'data-dir': { type: 'string' },
  postgres: { type: 'string' },
  json: { type: 'boolean' },
  passwd: { type: 'string' },
  acl: { type: 'string' },
  'platform-user': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const ACTIONS = new Set(['add', 'rotate', 'revoke', 'list', 'export-passwd']);

async function openStore(values: { 'data-dir'?: string; postgres?: string }): Promise<PlatformStore> {
  if (values.postgres !== undefined && !/^postgres(ql)?:\/\//.test(values.postgres))
    throw new CliError(`gateways: --postgres expects a postgres:// URL, got '${values.postgres}'`);
  try {
    return await openPlatformStore({ dataDir: values['data-dir'], postgresUrl: values.postgres });
  } catch (err) {
    if (err instanceof StartError) throw new CliError(`gateways: ${err.message}`, 1, { cause: err });
    throw err;
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('gateways', argv, OPTIONS, true);
  if (values.help === true || positionals.length === 0) {
    console.log(HELP);
    return values.help === true ? 0 : 2;
  }
  const [action, id, ...rest] = positionals as [string, string | undefined, ...string[]];
  if (!ACTIONS.has(action)) throw new CliError(`gateways: unknown action '${action}'\n\n${HELP}`);
  const needsId = action === 'add' || action === 'rotate' || action === 'revoke';
  if (needsId && id === undefined) throw new CliError(`gateways ${action}: expected the gateway ID`);
  if ((needsId ? rest.length : positionals.length - 1) > 0)
    throw new CliError(`gateways ${action}: unexpected argument '${needsId ? rest[0] : id}'`);
  if (needsId) {
    const problem = checkGatewayId(id!);
    if (problem) throw new CliError(`gateways ${action}: ${problem}`);
  }
  if (action === 'export-passwd' && values.passwd === undefined)
    throw new CliError('gateways export-passwd: --passwd FILE is required');

  const store = await openStore(values);
  const credentials = new GatewayCredentialAdmin(store);
  const print = (issued: { id: string; username: string; password: string }): void => {
    if (values.json) console.log(JSON.stringify(issued));
    else console.log(`id: ${issued.id}\nusername: ${issued.username}\npassword: ${issued.password}`);
  };
  try {
    switch (action) {
      case 'add': {
        print(await credentials.add(id!));
        console.error('the password is shown only now: put it in the gateway configuration (mqtt.password)');
        return 0;
      }
      case 'rotate': {
        const issued = await credentials.rotate(id!);
        if (!issued) throw new CliError(`gateways rotate: no gateway '${id}'`, 1);
        print(issued);
        return 0;
      }
      case 'revoke': {
        const revoked = await credentials.revoke(id!);
        if (!revoked) throw new CliError(`gateways revoke: gateway '${id}' has no credentials`, 1);
        if (values.json) console.log(JSON.stringify({ id, revoked }));
        else console.log(`credentials of gateway '${id}' revoked`);
        return 0;
      }
      case 'list': {
        const rows = await credentials.list();
        if (values.json) {
          console.log(
            JSON.stringify(
              rows.map((r) => ({
                id: r.gatewayId,
                username: `gw-${r.gatewayId}`,
                createdAt: r.createdAt,
                updatedAt: r.updatedAt,
              })),
            ),
          );
        } else {
          for (const r of rows)
            console.log(
              `${r.gatewayId}\tgw-${r.gatewayId}\tissued ${new Date(r.createdAt).toISOString()}\tchanged ${new Date(r.updatedAt).toISOString()}`,
            );
        }
        return 0;
      }
      default: {
        const file = values.passwd!;
        const existing = existsSync(file) ? readFileSync(file, 'utf8') : '';
        const files = await credentials.exportFiles(existing, values['platform-user']);
        writeSecretFile('gateways', file, files.passwd);
        if (values.acl !== undefined) writeSecretFile('gateways', values.acl, files.acl);
        console.error(
          `${file}: ${files.count} gateway(s)${values.acl ? `; ${values.acl}: ACL written` : ''}`,
        );
        return 0;
      }
    }
  } catch (err) {
    if (err instanceof PlatformError)
      throw new CliError(`gateways ${action}: ${err.message}`, err.code === 'conflict' ? 1 : 2, {
        cause: err,
      });
    throw err;
  } finally {
    await store.close();
  }
}
