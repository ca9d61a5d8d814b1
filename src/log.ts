// The one place loggers are made: structured JSON lines (pino) on stdout, so logs can be shipped
// as they are. Components receive a child logger (`logger.child({ component: 'broker' })`).
import { pino, type Logger } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  level?: LogLevel;
  /** Name shown in every line (`name` field). */
  name?: string;
  /** Where lines go; stdout by default. Tests pass a stream to read the lines back. */
  destination?: NodeJS.WritableStream;
}

/**
 * Without an explicit level (commands that load no config), `MQIOT_LOG_LEVEL` decides; the config
 * loader already applies that variable to `log.level`, so a command-line flag can still win over it.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const fromEnv = process.env.MQIOT_LOG_LEVEL;
  const level = options.level ?? (isLogLevel(fromEnv) ? fromEnv : 'info');
  const settings = { name: options.name ?? 'mqiot', level };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

function isLogLevel(value: string | undefined): value is LogLevel {
  return value !== undefined && (LOG_LEVELS as readonly string[]).includes(value);
}
