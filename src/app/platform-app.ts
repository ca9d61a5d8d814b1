// Wiring of the platform as one unit: store, contracts, core, broker attachment and HTTP API.
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ADMIN_PASSWORD_ENV, ensureFirstAdmin, firstAdminNotice } from '../platform/auth/first-admin.ts';
import { attachToBroker, type LocalBroker } from './broker-attach.ts';
import type { Clock } from '../platform/clock.ts';
import type { PlatformConfig } from '../platform/config.ts';
import { ContractRegistry, type ContractSource } from '../platform/contract-registry.ts';
import { buildApi, type ApiOptions } from '../platform/http/server.ts';
import { attachToMqtt, type MqttAttachOptions } from './mqtt-attach.ts';
import { Platform } from '../platform/platform.ts';
import { dashboardRoutes } from '../web/plugin.ts';
import { openPostgresStore, openSqliteStore, type PlatformStore } from '../platform/store/index.ts';
import { mosquittoHashing } from './secret-hashing.ts';

export { DEFAULT_HTTP_PORT } from './config/index.ts';
export const SQLITE_FILE = 'platform.db';

export interface PlatformAppOptions {
  /** SQLite database under this directory, unless `postgresUrl` is given. */
  dataDir?: string;
  postgresUrl?: string;
  config?: Partial<PlatformConfig>;
  broker?: LocalBroker;
  /** Or an external broker, over MQTT 5 (optionally a shared subscription). */
  mqtt?: Omit<MqttAttachOptions, 'logger'>;
  /** Start the HTTP API on this port (0 = any free port); omit to not listen. */
  http?: HttpListenOptions;
  /** The first admin's password when the store has no user (default: $MQIOT_ADMIN_PASSWORD; else random, printed once). */
  adminPassword?: string;
  /** Where the one-time note with a generated admin password goes (default: standard error, not the log). */
  announce?: (text: string) => void;
  logger?: Logger;
  clock?: Clock;
  contractSource?: ContractSource;
}

export interface HttpListenOptions {
  host: string;
  port: number;
  plugins?: ApiOptions['plugins'];
  /** Extra Host names besides localhost, IP addresses and this machine's name (http.allowedHosts). */
  allowedHosts?: readonly string[];
  trustProxy?: boolean;
  sessionHours?: number;
  /** PEM contents: HTTPS on the same listener. */
  https?: { cert: Buffer; key: Buffer };
}

export interface PlatformApp {
  platform: Platform;
  store: PlatformStore;
  api: FastifyInstance;
  /** Base URL of the HTTP API when it listens. */
  url?: string;
  close(): Promise<void>;
}

export async function startPlatformApp(options: PlatformAppOptions): Promise<PlatformApp> {
  const store = options.postgresUrl
    ? await openPostgresStore(options.postgresUrl)
    : await openSqliteStore(join(options.dataDir ?? 'data', SQLITE_FILE));
  const contracts = new ContractRegistry(store, options.contractSource);
  await contracts.load();
  const logger = options.logger?.child({ component: 'platform' });
  if (contracts.unavailable.length)
    logger?.warn({ contracts: contracts.unavailable }, 'some contracts could not be loaded');
  // the built-in alarm rules are created at a store's first start unless the caller says otherwise
  const platform = new Platform(
    { builtinAlarms: true, ...options.config },
    {
      store,
      contracts,
      secretHashing: mosquittoHashing,
      clock: options.clock,
      logger,
    },
  );
  await platform.start();
  let attachment: { detach(): void | Promise<void> } | undefined;
  try {
    if (options.broker) attachment = attachToBroker(platform, options.broker);
    else if (options.mqtt) attachment = await attachToMqtt(platform, { ...options.mqtt, logger });
  } catch (err) {
    await platform.stop();
    await store.close();
    throw err;
  }
  let api: FastifyInstance;
  let firstAdmin: Awaited<ReturnType<typeof ensureFirstAdmin>>;
  try {
    firstAdmin = await ensureFirstAdmin(store, platform.clock, {
      password: options.adminPassword ?? (process.env[ADMIN_PASSWORD_ENV] || undefined),
    });
    const http = options.http;
    api = await buildApi(platform, {
      logger: options.logger?.child({ component: 'http' }),
      // the web dashboard at / is served wherever the API is (mqiot up, cloud, edge)
      plugins: [dashboardRoutes, ...(http?.plugins ?? [])],
      allowedHosts: [...(http?.allowedHosts ?? []), hostname(), ...(http ? [http.host] : [])],
      trustProxy: http?.trustProxy,
      https: http?.https,
      auth: http?.sessionHours ? { sessionTtlMs: http.sessionHours * 3600_000 } : undefined,
    });
  } catch (err) {
    await attachment?.detach();
    await platform.stop();
    await store.close();
    throw err;
  }
  let url: string | undefined;
  if (options.http) url = await api.listen({ host: options.http.host, port: options.http.port });
  const notice = firstAdminNotice(firstAdmin, url?.replace(/\/\/(0\.0\.0\.0|\[::\])/, '//localhost'));
  // straight to the console, never through the logger: the password must not end up in log files
  if (notice) (options.announce ?? ((text) => process.stderr.write(text)))(notice);
  return {
    platform,
    store,
    api,
    url,
    async close() {
      await api.close();
      await attachment?.detach();
      await platform.stop();
      await store.close();
    },
  };
}
