// The platform's gateway secrets hashed the way the broker checks password files (Mosquitto `$7$`,
// PBKDF2-SHA512), so issued credentials can be exported to a Mosquitto password file unchanged.
import { hashPassword, parsePasswordFile, verifyEntry } from '../broker/auth/password-file.ts';
import type { SecretHashing } from '../platform/gateways/credentials.ts';

export const mosquittoHashing: SecretHashing = {
  hash: (secret) => hashPassword(secret),
  verify: (username, hash, secret) => {
    const entry = parsePasswordFile(`${username}:${hash}\n`, 'gateway_credentials').get(username)!;
    return verifyEntry(entry, secret);
  },
};
