// Writing a password or ACL file for a broker to read.
import { chmodSync, renameSync, writeFileSync } from 'node:fs';
import { CliError } from './errors.ts';

/**
 * Writes beside, then renames (a broker reloading on SIGHUP never reads half a file); mode 0600 even
 * where the umask would widen it. A failure is a one-line CLI error naming `command` and the file.
 */
export function writeSecretFile(command: string, file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  } catch (err) {
    throw new CliError(`${command}: cannot write ${file}: ${(err as Error).message}`, 1, { cause: err });
  }
}
