// Real platform parts in process for tests: an edge (all-in-one: broker and platform) and a cloud
// platform on its own broker, bridged to each other.
import { join } from 'node:path';
import { loadConfig, type LoadConfigOptions } from '../../src/app/config/index.ts';
import { createLogger } from '../../src/log.ts';
import { startAllInOne, type AllInOne, type AllInOneOptions } from '../../src/app/all-in-one.ts';
import { startPlatformApp, type PlatformApp, type PlatformAppOptions } from '../../src/app/platform-app.ts';
import { CloudLink } from '../../src/app/edge/cloud-link.ts';
import { TcpBroker } from './broker.ts';

type BrokerOverrides = NonNullable<NonNullable<LoadConfigOptions['overrides']>['broker']>;

/** The broker's configuration as a test runs it: MQTT on 127.0.0.1 port 0, no WebSocket, metrics or $SYS. */
export function testBrokerConfig(broker: BrokerOverrides = {}): AllInOneOptions['broker'] {
  return loadConfig({
    env: {},
    overrides: {
      broker: {
        host: '127.0.0.1',
        port: 0,
        wsPort: null,
        metricsPort: null,
        sys: { interval: 0 },
        ...broker,
      },
    },
  }).broker;
}

/** The all-in-one (broker and platform) on 127.0.0.1 port 0, as an edge site runs it, silent. */
export async function startEdge(dataDir: string, platform?: AllInOneOptions['platform']): Promise<AllInOne> {
  return startAllInOne({
    broker: testBrokerConfig(),
    dataDir,
    http: { host: '127.0.0.1', port: 0 },
    platform,
    logger: createLogger({ level: 'silent' }),
  });
}

export interface EdgeAndCloud {
  /** The cloud broker, which a test can take down (`cloud.down()`) and bring back (`cloud.listen()`). */
  cloud: TcpBroker;
  cloudApp: PlatformApp;
  edge: AllInOne;
  /** The edge's bridge to the cloud broker, started. */
  link: CloudLink;
  close(): Promise<void>;
}

/**
 * A cloud platform on its own broker and an edge bridged to it; data in `dir`/cloud and `dir`/edge.
 * `cloudApp` adds to the cloud platform's options (its MQTT client id, HTTP, config).
 */
export async function startEdgeAndCloud(
  dir: string,
  cloudApp: Omit<PlatformAppOptions, 'dataDir' | 'mqtt'> & { clientId: string; shareGroup?: string },
  linkClientId: string,
): Promise<EdgeAndCloud> {
  const parts: Partial<EdgeAndCloud> = {};
  const close = async (): Promise<void> => {
    await parts.link?.close();
    await parts.edge?.close();
    await parts.cloudApp?.close();
    await parts.cloud?.close();
  };
  try {
    const cloud = (parts.cloud = await TcpBroker.start());
    const { clientId, shareGroup, ...appOptions } = cloudApp;
    parts.cloudApp = await startPlatformApp({
      ...appOptions,
      dataDir: join(dir, 'cloud'),
      // a session kept at the cloud broker: the tests' uplinks ask for no data-ack, so the edge's forward
      // queue lets them go on the cloud broker's PUBACK, and those forwarded while the platform
      // reconnects must wait for it there (docs/architecture.md, "A site")
      mqtt: {
        url: cloud.url,
        clientId,
        sessionExpiry: 86_400,
        ...(shareGroup === undefined ? {} : { shareGroup }),
      },
    });
    parts.edge = await startEdge(join(dir, 'edge'));
    parts.link = new CloudLink(parts.edge.broker, {
      cloudUrl: cloud.url,
      clientId: linkClientId,
      queuePath: join(dir, 'edge', 'forward.db'),
      reconnectMs: 100,
    });
    parts.link.start();
    return { ...(parts as Required<Omit<EdgeAndCloud, 'close'>>), close };
  } catch (err) {
    await close();
    throw err;
  }
}
