// The platform's timing flags, shared by the commands that run it (`up`, `cloud`, `edge`), so each
// accepts the same names with the same checks and help text.
import { DEFAULT_PLATFORM_CONFIG, type PlatformConfig } from '../app/commands/platform-options.ts';
import { intFlag } from './args.ts';

export const PLATFORM_OPTIONS = {
  'heartbeat-ms': { type: 'string' },
  'command-timeout-ms': { type: 'string' },
  'query-timeout-ms': { type: 'string' },
  'retention-days': { type: 'string' },
} as const;

export const PLATFORM_HELP = `  --heartbeat-ms MS       platform heartbeat period (default ${DEFAULT_PLATFORM_CONFIG.heartbeatIntervalMs})
  --command-timeout-ms MS command feedback timeout before a resend (default ${DEFAULT_PLATFORM_CONFIG.commandTimeoutMs})
  --query-timeout-ms MS   how long a status query waits for the gateway's answer (default ${DEFAULT_PLATFORM_CONFIG.queryTimeoutMs})
  --retention-days DAYS   delete readings older than this (default 0: keep forever)`;

export function platformFlags(
  command: string,
  values: {
    'heartbeat-ms'?: string;
    'command-timeout-ms'?: string;
    'query-timeout-ms'?: string;
    'retention-days'?: string;
  },
): Partial<PlatformConfig> {
  const platform: Partial<PlatformConfig> = {};
  const heartbeat = intFlag(command, 'heartbeat-ms', values['heartbeat-ms'], 1);
  if (heartbeat !== undefined) platform.heartbeatIntervalMs = heartbeat;
  const commandTimeout = intFlag(command, 'command-timeout-ms', values['command-timeout-ms'], 1);
  if (commandTimeout !== undefined) platform.commandTimeoutMs = commandTimeout;
  const query = intFlag(command, 'query-timeout-ms', values['query-timeout-ms'], 1);
  if (query !== undefined) platform.queryTimeoutMs = query;
  const retention = intFlag(command, 'retention-days', values['retention-days'], 0);
  if (retention !== undefined) platform.retentionDays = retention;
  return platform;
}
