import { topicMatches } from '../protocol/topic.ts';
import type { AccessCounters } from './counters.ts';
import { UPSTREAM_NAMES, type Upstream } from './failover.ts';

/**
 * The module's own `$SYS` topics, answered on the client side: a client that subscribes to
 * `$SYS/access/#` through the module sees *its* session (which broker takes its PUBLISHes, the
 * changes and their causes). They are not published to the brokers: the brokers own their `$SYS`
 * trees, and the module's state differs per client session.
 */
export const SYS_PREFIX = '$SYS/access/';

export const SysTopic = {
  Active: '$SYS/access/active',
  Event: '$SYS/access/event',
  Broker1: '$SYS/access/broker1',
  Broker2: '$SYS/access/broker2',
  Stats: '$SYS/access/stats',
} as const;

export function isLocalFilter(filter: string): boolean {
  return filter.startsWith(SYS_PREFIX) || filter === '$SYS/access' || filter === '$SYS/access/#';
}

export function matchesAny(filters: Iterable<string>, topic: string): boolean {
  for (const f of filters) if (topicMatches(f, topic)) return true;
  return false;
}

export function activeName(active: Upstream | null): string {
  return active === null ? 'none' : UPSTREAM_NAMES[active];
}

export function statsPayload(counters: AccessCounters): string {
  return JSON.stringify({
    published: { broker1: counters.published[0], broker2: counters.published[1] },
    delivered: { broker1: counters.delivered[0], broker2: counters.delivered[1] },
    failovers: counters.failovers,
    failbacks: counters.failbacks,
    duplicatesDropped: counters.duplicatesDropped,
    resent: counters.resent,
  });
}
