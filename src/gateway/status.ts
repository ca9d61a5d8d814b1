// What a status query and a periodic report say about the gateway and its devices.
import type { DeviceHealth } from './device.ts';

export interface GatewayStats {
  startedAt: number;
  framesQueued: number;
  groupsQueued: number;
  published: number;
  /** Uplink publishes the broker refused (error PUBACK/PUBREC); each is resent after a backoff. */
  refused: number;
  /** Data groups the platform acknowledged as stored (`data-ack`). */
  groupsAcked: number;
  /** Data groups sent again because their `data-ack` did not come in time. */
  groupsResent: number;
  commandsExecuted: number;
  commandsCached: number;
  queries: number;
  reportsQueued: number;
  reportsResent: number;
  reportsAcked: number;
  heartbeats: number;
  badDownlink: number;
}

export interface GatewaySnapshot {
  id: string;
  now: number;
  online: boolean;
  connected: boolean;
  lastCommunication: number | null;
  onlineChangedAt: number | null;
  epoch: string;
  nextSeq: number;
  queueDepth: number;
  dropped: number;
  reportsPending: number;
  reportsGivenUp: number;
  stats: GatewayStats;
  devices: DeviceHealth[];
}

function gatewayPart(s: GatewaySnapshot) {
  return {
    online: s.online,
    connected: s.connected,
    lastCommunication: s.lastCommunication,
    onlineChangedAt: s.onlineChangedAt,
    uptimeMs: s.now - s.stats.startedAt,
    queueDepth: s.queueDepth,
    dropped: s.dropped,
    epoch: s.epoch,
    nextSeq: s.nextSeq,
  };
}

/**
 * Status for a query: complete unless a requested device is unknown or not answering (its last
 * attempt failed), in which case `error` says which — the "not completed" answer of docs/protocol.md.
 */
export function buildStatus(
  s: GatewaySnapshot,
  devs?: string[],
): { complete: boolean; status: Record<string, unknown>; error?: string } {
  const wanted = devs ?? s.devices.map((d) => d.dev);
  const problems: string[] = [];
  const devices = wanted.map((id) => {
    const d = s.devices.find((h) => h.dev === id);
    if (!d) {
      problems.push(`${id}: unknown device`);
      return { dev: id, known: false };
    }
    if (d.consecutiveErrors > 0) problems.push(`${id}: ${d.lastError ?? 'not answering'}`);
    return { ...d };
  });
  const status = { gateway: gatewayPart(s), devices };
  return problems.length
    ? { complete: false, status, error: problems.join('; ') }
    : { complete: true, status };
}

export function buildReport(s: GatewaySnapshot): Record<string, unknown> {
  return {
    ...gatewayPart(s),
    ...s.stats,
    reportsPending: s.reportsPending,
    reportsGivenUp: s.reportsGivenUp,
    devices: s.devices.map((d) => ({
      dev: d.dev,
      lastOk: d.lastOk,
      errors: d.errors,
      consecutiveErrors: d.consecutiveErrors,
      frames: d.frames,
    })),
  };
}
