// `mqiot edge`'s links beyond the site: the cloud link (uplinks up through the forward queue,
// downlinks down) and, given the cloud's API, the copy of its linkage rules run while the link is down.
import { join } from 'node:path';
import type { Logger } from '../../log.ts';
import { RulesMirror } from '../../platform/rules/rules-mirror.ts';
import type { AllInOne } from '../all-in-one.ts';
import { CloudLink } from './cloud-link.ts';

export interface SiteLinkOptions {
  cloudUrl: string;
  edgeId: string;
  username?: string;
  password?: string;
  dataDir: string;
  forwardTelemetry: boolean;
  /** The cloud platform's HTTP API, whose rules are copied; none: no copy. */
  cloudApiUrl?: string;
  cloudApiToken?: string;
  logger: Logger;
}

export interface SiteLinks {
  /** Uplinks waiting for the cloud. */
  readonly queued: number;
  close(): Promise<void>;
}

export async function startSiteLinks(system: AllInOne, options: SiteLinkOptions): Promise<SiteLinks> {
  const { logger } = options;
  const link = new CloudLink(system.broker, {
    cloudUrl: options.cloudUrl,
    clientId: `mqiot-edge-${options.edgeId}`,
    username: options.username,
    password: options.password,
    queuePath: join(options.dataDir, 'forward-queue.db'),
    forwardTelemetry: options.forwardTelemetry,
    logger: logger.child({ component: 'cloud-link' }),
  });
  link.start();
  const rules = options.cloudApiUrl
    ? new RulesMirror(
        { engine: system.app.platform.rules, store: system.app.store, clock: system.app.platform.clock },
        {
          cloudApiUrl: options.cloudApiUrl,
          cloudApiToken: options.cloudApiToken,
          cloudUp: () => link.connected,
          logger: logger.child({ component: 'rules-mirror' }),
        },
      )
    : undefined;
  await rules?.start();
  return {
    get queued() {
      return link.queue.depth;
    },
    async close() {
      await rules?.stop();
      await link.close();
    },
  };
}
