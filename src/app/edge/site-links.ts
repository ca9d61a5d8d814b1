// `mqiot edge`'s links beyond the site: the cloud link (uplinks up through the forward queue,
// downlinks down) and, given the cloud's API, the replica of what the site needs from the cloud
// (devices, contracts, rules, last known state) kept on disk and synced, with the edge's firings reported.
import { join } from 'node:path';
import type { Logger } from '../../log.ts';
import { RulesMirror } from '../../platform/rules/rules-mirror.ts';
import type { AllInOne } from '../all-in-one.ts';
import { CloudLink } from './cloud-link.ts';
import { EdgeSync } from './edge-sync.ts';
import { REPLICA_FILE, ReplicaStore } from './replica-store.ts';

export interface SiteLinkOptions {
  cloudUrl: string;
  edgeId: string;
  username?: string;
  password?: string;
  dataDir: string;
  forwardTelemetry: boolean;
  /** The cloud platform's HTTP API, whose replica is kept; none: no replica, no firings reported. */
  cloudApiUrl?: string;
  cloudApiToken?: string;
  /** How often the replica is synced and firings are reported. */
  syncMs: number;
  logger: Logger;
}

export interface SiteLinks {
  /** Uplinks waiting for the cloud. */
  readonly queued: number;
  close(): Promise<void>;
}

export async function startSiteLinks(system: AllInOne, options: SiteLinkOptions): Promise<SiteLinks> {
  const { logger } = options;
  let sync: EdgeSync | undefined;
  const link = new CloudLink(system.broker, {
    cloudUrl: options.cloudUrl,
    clientId: `mqiot-edge-${options.edgeId}`,
    username: options.username,
    password: options.password,
    queuePath: join(options.dataDir, 'forward-queue.db'),
    forwardTelemetry: options.forwardTelemetry,
    // firings acted on during an outage are reported before the queued readings go up
    beforePump: () => sync?.reportFirings() ?? Promise.resolve(),
    logger: logger.child({ component: 'cloud-link' }),
  });
  const replica = options.cloudApiUrl ? new ReplicaStore(join(options.dataDir, REPLICA_FILE)) : undefined;
  if (options.cloudApiUrl && replica) {
    const { platform } = system.app;
    const mirror = new RulesMirror(
      { engine: platform.rules, store: platform.store, clock: platform.clock },
      {
        cloudApiUrl: options.cloudApiUrl,
        cloudApiToken: options.cloudApiToken,
        cloudUp: () => link.connected,
        logger: logger.child({ component: 'rules-mirror' }),
      },
    );
    sync = new EdgeSync(
      { platform, mirror, replica },
      {
        cloudApiUrl: options.cloudApiUrl,
        cloudApiToken: options.cloudApiToken,
        edgeId: options.edgeId,
        intervalMs: options.syncMs,
        logger: logger.child({ component: 'edge-sync' }),
      },
    );
    // the replica on disk is applied (and the rules primed) before the link starts
    await sync.start();
  }
  link.start();
  return {
    get queued() {
      return link.queue.depth;
    },
    async close() {
      await sync?.stop();
      await link.close();
      replica?.close();
    },
  };
}
