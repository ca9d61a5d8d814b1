// `mqiot broker`'s process: the broker with its auth files, optional durable store, listeners and
// $SYS publisher, started from the configuration and stopped gracefully.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Broker } from '../../broker/broker.ts';
import type { SqliteSessionStore } from '../../broker/store/sqlite.ts';
import { AuthFileError, BrokerAuth, reloadOnSighup } from '../../broker/auth/index.ts';
import { SysPublisher } from '../../broker/sys.ts';
import type { Logger } from '../../log.ts';
import { persistencePath, type MqiotConfig } from '../config/index.ts';
import { startListeners, type Listener } from '../listeners.ts';
import { StartError } from '../start-error.ts';

/** How long shutdown waits for connections to end after broker.close() before destroying them. */
const SHUTDOWN_GRACE_MS = 2000;

export interface BrokerProcess {
  readonly version: string;
  /** Stop accepting, let the broker say goodbye (v5: DISCONNECT 0x8B), then wait for the sockets to go. */
  stop(): Promise<void>;
}

/** The version in package.json: three folders up from src/app/commands/, one up from the built dist/. */
function packageVersion(): string {
  for (const path of ['../../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'mqiot') return pkg.version ?? '0.0.0';
    } catch {
      // not there: try the next place
    }
  }
  return '0.0.0';
}

/** The durable store of `broker.persistence`, or undefined for memory (`off`, and `auto` for this command). */
async function openStore(config: MqiotConfig, logger: Logger): Promise<SqliteSessionStore | undefined> {
  const path = persistencePath(config.broker.persistence, null);
  if (path === null) return undefined;
  // Imported only when asked for: a broker in memory loads no SQLite code.
  const { SqliteSessionStore, SqliteStoreError } = await import('../../broker/store/sqlite.ts');
  try {
    return new SqliteSessionStore({
      path: resolve(path),
      logger: logger.child({ component: 'broker-store' }),
    });
  } catch (err) {
    if (err instanceof SqliteStoreError) throw new StartError(err.message, { cause: err });
    throw err;
  }
}

/** The password / ACL files of `broker.auth`, loaded; a bad file is a StartError naming file and line. */
function openAuth(config: MqiotConfig, logger: Logger): BrokerAuth {
  try {
    return new BrokerAuth(config.broker.auth, { logger: logger.child({ component: 'broker-auth' }) });
  } catch (err) {
    if (err instanceof AuthFileError) throw new StartError(err.message, { cause: err });
    throw err;
  }
}

export async function startBrokerProcess(config: MqiotConfig, logger: Logger): Promise<BrokerProcess> {
  const version = packageVersion();
  const auth = openAuth(config, logger);
  const store = await openStore(config, logger);
  const broker = new Broker(config.broker.mqtt, {
    logger: logger.child({ component: 'broker' }),
    store,
    hooks: auth.hooks,
  });
  logger.info(auth.describe(), 'broker auth');
  const stopReload = reloadOnSighup(auth, logger);
  logger.info({ persistence: store?.path ?? 'memory' }, 'broker store');
  let listeners: Listener[];
  try {
    listeners = await startListeners(broker, config.broker, logger.child({ component: 'server' }));
  } catch (err) {
    stopReload();
    await broker.close();
    throw new StartError(`cannot listen: ${(err as Error).message}`, { cause: err });
  }
  const sys = new SysPublisher(broker, { interval: config.broker.sys.interval, version: `mqiot ${version}` });
  sys.start();
  return {
    version,
    async stop() {
      stopReload();
      for (const l of listeners) l.stopAccepting();
      sys.stop();
      try {
        await broker.close();
      } catch (err) {
        logger.error({ err }, 'broker close failed');
      }
      await Promise.all(listeners.map((l) => l.drain(SHUTDOWN_GRACE_MS)));
    },
  };
}
