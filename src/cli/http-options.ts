// The HTTP listener's options from the configuration (`http.*`), shared by `up`, `cloud` and `edge`.
import { readFileSync } from 'node:fs';
import type { HttpConfig } from '../app/config/index.ts';
import type { HttpListenOptions } from '../app/platform-app.ts';
import { ADMIN_PASSWORD_ENV, passwordProblem } from '../app/commands/platform-options.ts';
import { CliError } from './errors.ts';

function readPem(command: string, field: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError(`${command}: ${field}: cannot read ${file}: ${(err as Error).message}`, 2, {
      cause: err,
    });
  }
}

export function httpListenOptions(
  command: string,
  http: HttpConfig,
  host: string,
  port: number,
): HttpListenOptions {
  // checked before anything starts, like the rest of the configuration
  const adminPassword = process.env[ADMIN_PASSWORD_ENV];
  const problem = adminPassword ? passwordProblem(adminPassword) : undefined;
  if (problem)
    throw new CliError(`${command}: ${ADMIN_PASSWORD_ENV}: ${problem.replace(/^password: /, '')}`, 2);
  const { cert, key } = http.tls;
  if ((cert === null) !== (key === null))
    throw new CliError(`${command}: http.tls: set both cert and key for HTTPS, or neither`, 2);
  return {
    host,
    port,
    allowedHosts: http.allowedHosts,
    trustProxy: http.trustProxy,
    sessionHours: http.sessionHours,
    https:
      cert !== null && key !== null
        ? { cert: readPem(command, 'http.tls.cert', cert), key: readPem(command, 'http.tls.key', key) }
        : undefined,
  };
}
