/** Shared by the identity tests: users, the Mosquitto-format password and ACL files, a CONNECT attempt. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type IClientOptions } from 'mqtt';
import { hashPassword, setPasswordLine } from '../../src/broker/auth/index.ts';
import { collect } from '../support/mqtt.ts';

export const PASSWORDS: Record<string, string> = {
  'gw-a': 'pw-a',
  'gw-b': 'pw-b',
  platform: 'pw-platform',
  alice: 'pw-alice',
  bob: 'pw-bob',
};

/** The same ACL a Mosquitto deployment would use: one section per gateway, the platform writes downlink. */
export const ACL = `# anonymous clients (lab mode)
topic readwrite lab/#

user gw-a
topic write mqiot/gw/a/up
topic read mqiot/gw/a/down

user gw-b
topic write mqiot/gw/b/up
topic read mqiot/gw/b/down

user platform
topic readwrite mqiot/gw/#

user alice
topic read feed/#

user bob
topic read feed/public
`;

export async function writeAuthFiles(
  dir: string,
  acl = ACL,
): Promise<{ passwordFile: string; aclFile: string }> {
  let text = '';
  for (const [user, pw] of Object.entries(PASSWORDS))
    text = setPasswordLine(text, user, await hashPassword(pw));
  const passwordFile = join(dir, 'passwd');
  const aclFile = join(dir, 'acl');
  writeFileSync(passwordFile, text, { mode: 0o644 });
  writeFileSync(aclFile, acl, { mode: 0o644 });
  return { passwordFile, aclFile };
}

/** What a CONNECT got: the CONNACK's code and session present, or the connection's error code. */
export async function tryConnect(url: string, opts: IClientOptions): Promise<Attempt> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  // listening before CONNECT: queued messages may come in the same read as the CONNACK
  const got = collect(client);
  return new Promise((resolve) => {
    client.once('connect', (p) => {
      const code = p.reasonCode ?? p.returnCode ?? 0;
      resolve({ ok: true, code, sessionPresent: p.sessionPresent, client, got });
    });
    client.once('error', (err) => {
      client.end(true);
      const code = (err as { code?: number }).code ?? -1;
      resolve({ ok: false, code, sessionPresent: false, client, got });
    });
  });
}

export interface Attempt {
  ok: boolean;
  code: number;
  sessionPresent: boolean;
  client: mqtt.MqttClient;
  /** Every message it received, from the first packet after CONNACK on. */
  got: ReturnType<typeof collect>;
}
