// `mqiot up`: broker with its listeners, the platform attached in process, and the HTTP API, in one
// process on SQLite under a data directory; optionally a simulated demo site.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Broker, SqliteSessionStore } from '../broker/index.ts';
import { BrokerAuth, reloadOnSighup } from '../broker/auth/index.ts';
import { startListeners, type Listener } from './listeners.ts';
import { persistencePath, type BrokerConfig } from './config/schema.ts';
import type { Logger } from 'pino';
import { startPlatformApp, type HttpListenOptions, type PlatformApp } from './platform-app.ts';
import { UnknownGateways, type PlatformConfig } from '../platform/config.ts';
import { registryAuthenticator } from './gateway-broker-auth.ts';
import type { IssuedCredentials } from '../platform/gateways/credentials.ts';

export interface AllInOneOptions {
  broker: BrokerConfig;
  dataDir: string;
  http: HttpListenOptions;
  postgresUrl?: string;
  /** See PlatformAppOptions. */
  adminPassword?: string;
  announce?: (text: string) => void;
  platform?: Partial<PlatformConfig>;
  logger: Logger;
  /** Starts the simulated site once broker and platform run; returns how to stop it. */
  demo?: (ctx: DemoContext) => Promise<{ close(): Promise<void> }>;
}

export interface DemoContext {
  mqttUrl: string;
  dataDir: string;
  logger: Logger;
  /** Registers the gateway and gives it fresh credentials (the demo's gateway logs in like any other). */
  issueGatewayCredentials(gatewayId: string): Promise<IssuedCredentials>;
}

/** How often connections whose credentials were changed elsewhere (CLI, another instance) are cut. */
export const CREDENTIAL_SWEEP_MS = 5000;

/**
 * The platform settings that follow from the broker's: outside lab mode (anonymous clients allowed)
 * only `gw-<id>` (or a listed relay) speaks for gateway `<id>`. Unknown gateways are registered by
 * default: outside lab mode only a login an operator created can publish for one, which is approval
 * enough; `pending` adds a second step (platform.unknownGateways).
 */
export function platformDefaultsFor(broker: BrokerConfig): Partial<PlatformConfig> {
  return { requireGatewayIdentity: !broker.auth.allowAnonymous, unknownGateways: UnknownGateways.Register };
}

export interface AllInOne {
  broker: Broker;
  listeners: Listener[];
  app: PlatformApp;
  mqttUrl: string;
  httpUrl: string;
  close(): Promise<void>;
}

const SHUTDOWN_GRACE_MS = 2000;
/** The broker's session store under the data directory when `broker.persistence` is `auto`. */
export const BROKER_DB_FILE = 'broker.db';

export async function startAllInOne(options: AllInOneOptions): Promise<AllInOne> {
  const { logger } = options;
  mkdirSync(options.dataDir, { recursive: true });
  // password / ACL files of broker.auth; in-process parts (local clients) are not subject to them
  const auth = new BrokerAuth(options.broker.auth, {
    logger: logger.child({ component: 'broker-auth' }),
    gatewayRegistry: true,
  });
  // sessions and retained messages are durable by default here; broker.close() closes the store
  const storePath = persistencePath(options.broker.persistence, join(options.dataDir, BROKER_DB_FILE));
  const store =
    storePath === null
      ? undefined
      : new SqliteSessionStore({
          path: resolve(storePath),
          logger: logger.child({ component: 'broker-store' }),
        });
  // gateways log in with the credentials the platform issued; everyone else as broker.auth says
  const registryAuth = registryAuthenticator(
    auth.hooks.authenticate,
    logger.child({ component: 'broker-auth' }),
  );
  const broker = new Broker(options.broker.mqtt, {
    logger: logger.child({ component: 'broker' }),
    store,
    hooks: { ...auth.hooks, authenticate: registryAuth.authenticate },
  });
  logger.info({ persistence: store?.path ?? 'memory' }, 'broker store');
  let app: PlatformApp | undefined;
  // The platform's metrics join the broker's on the one metrics listener once the platform runs.
  const platformMetrics = () => app?.platform.metrics.render() ?? '';
  const listeners = await startListeners(
    broker,
    options.broker,
    logger.child({ component: 'server' }),
    platformMetrics,
  ).catch(async (err) => {
    await broker.close();
    throw err;
  });
  try {
    app = await startPlatformApp({
      dataDir: options.dataDir,
      postgresUrl: options.postgresUrl,
      broker,
      http: options.http,
      config: { ...platformDefaultsFor(options.broker), ...options.platform },
      logger,
      adminPassword: options.adminPassword,
      announce: options.announce,
    });
  } catch (err) {
    await closeBroker(broker, listeners);
    throw err;
  }
  const { credentials } = app.platform;
  registryAuth.ready(credentials);
  const detachCredentials = credentials.attachBroker(broker);
  const sweep = setInterval(() => {
    credentials.sweep().catch((err: unknown) => logger.warn({ err }, 'credential sweep failed'));
  }, CREDENTIAL_SWEEP_MS);
  sweep.unref();
  const tcp = listeners.find((l) => l.transport === 'tcp');
  const mqttHost = !tcp || tcp.host === '0.0.0.0' || tcp.host === '::' ? '127.0.0.1' : tcp.host;
  const mqttUrl = `mqtt://${mqttHost}:${tcp?.port ?? options.broker.port}`;
  const httpUrl = app.url!.replace('0.0.0.0', '127.0.0.1').replace('[::]', '[::1]');
  let demo: { close(): Promise<void> } | undefined;
  const stopReload = reloadOnSighup(auth, logger);
  const close = async () => {
    clearInterval(sweep);
    detachCredentials();
    await demo?.close().catch((err) => logger.error({ err }, 'demo site close failed'));
    await app.close().catch((err) => logger.error({ err }, 'platform close failed'));
    await closeBroker(broker, listeners);
    stopReload();
  };
  if (options.demo) {
    try {
      demo = await options.demo({
        mqttUrl,
        dataDir: options.dataDir,
        logger,
        issueGatewayCredentials: async (gatewayId) => {
          const now = app.platform.clock.now();
          await app.store.ensureGateway(gatewayId, now);
          return credentials.rotate(gatewayId);
        },
      });
    } catch (err) {
      await close();
      throw err;
    }
  }
  return { broker, listeners, app, mqttUrl, httpUrl, close };
}

async function closeBroker(broker: Broker, listeners: Listener[]): Promise<void> {
  for (const l of listeners) l.stopAccepting();
  await broker.close();
  await Promise.all(listeners.map((l) => l.drain(SHUTDOWN_GRACE_MS)));
}
