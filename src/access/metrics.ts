import type { AccessCounters } from './counters.ts';
import { UPSTREAM_NAMES, type Upstream } from './failover.ts';

/** What the Prometheus page needs to know about the live sessions. */
export interface SessionView {
  readonly active: Upstream | null;
  readonly upstreamUp: readonly [boolean, boolean];
}

function esc(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Prometheus text exposition format 0.0.4 for the module's counters. */
export function renderPrometheus(counters: AccessCounters, sessions: Iterable<SessionView>): string {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  const perUpstream = (values: readonly [number, number]): [string, number][] =>
    UPSTREAM_NAMES.map((name, i) => [`{upstream="${name}"}`, values[i as Upstream]]);

  const activeCount = { broker1: 0, broker2: 0, none: 0 };
  const upCount: [number, number] = [0, 0];
  for (const s of sessions) {
    activeCount[s.active === null ? 'none' : UPSTREAM_NAMES[s.active]]++;
    if (s.upstreamUp[0]) upCount[0]++;
    if (s.upstreamUp[1]) upCount[1]++;
  }
  metric('mqiot_access_clients_connected', 'gauge', 'Clients connected to the module.', [
    ['', counters.clientsConnected],
  ]);
  metric('mqiot_access_clients_total', 'counter', 'Client connections accepted (CONNECT seen).', [
    ['', counters.clientsTotal],
  ]);
  metric('mqiot_access_clients_refused_total', 'counter', 'Clients refused (no broker accepted).', [
    ['', counters.clientsRefused],
  ]);
  metric('mqiot_access_sessions_active', 'gauge', 'Client sessions by the broker their PUBLISHes go to.', [
    ['{upstream="broker1"}', activeCount.broker1],
    ['{upstream="broker2"}', activeCount.broker2],
    ['{upstream="none"}', activeCount.none],
  ]);
  metric(
    'mqiot_access_upstream_links_up',
    'gauge',
    'Upstream links that are connected.',
    perUpstream(upCount),
  );
  metric(
    'mqiot_access_upstream_connects_total',
    'counter',
    'Accepted upstream CONNECTs.',
    perUpstream(counters.upstreamConnects),
  );
  metric(
    'mqiot_access_upstream_disconnects_total',
    'counter',
    'Upstream links lost.',
    perUpstream(counters.upstreamDowns),
  );
  metric(
    'mqiot_access_messages_published_total',
    'counter',
    'PUBLISH sent to a broker.',
    perUpstream(counters.published),
  );
  metric(
    'mqiot_access_messages_acknowledged_total',
    'counter',
    'QoS 1/2 PUBLISH completed by a broker.',
    perUpstream(counters.acknowledged),
  );
  metric(
    'mqiot_access_messages_delivered_total',
    'counter',
    'PUBLISH delivered to clients, by source broker.',
    perUpstream(counters.delivered),
  );
  metric(
    'mqiot_access_duplicates_dropped_total',
    'counter',
    "Copies dropped because the other broker's copy was delivered.",
    [['', counters.duplicatesDropped]],
  );
  metric(
    'mqiot_access_messages_resent_total',
    'counter',
    'Unfinished QoS 1/2 messages sent again to the other broker.',
    [['', counters.resent]],
  );
  metric('mqiot_access_qos0_dropped_total', 'counter', 'QoS 0 PUBLISH dropped while no broker was up.', [
    ['', counters.droppedQos0],
  ]);
  metric('mqiot_access_failovers_total', 'counter', 'Switches away from a lost active broker.', [
    ['', counters.failovers],
  ]);
  metric('mqiot_access_failbacks_total', 'counter', 'Returns to Broker1 after the hold time.', [
    ['', counters.failbacks],
  ]);
  metric('mqiot_access_outages_total', 'counter', 'Times a session had no broker at all.', [
    ['', counters.outages],
  ]);
  metric(
    'mqiot_access_transitions_by_cause_total',
    'counter',
    'Failovers, failbacks and outages by cause.',
    [...counters.causes].map(([cause, n]) => [`{cause="${esc(cause)}"}`, n]),
  );
  const lastFailover = counters.lastOf('failover');
  const lastFailback = counters.lastOf('failback');
  metric('mqiot_access_last_failover_timestamp_seconds', 'gauge', 'Time of the last failover.', [
    ['', lastFailover ? lastFailover.at / 1000 : 0],
  ]);
  metric('mqiot_access_last_failback_timestamp_seconds', 'gauge', 'Time of the last failback.', [
    ['', lastFailback ? lastFailback.at / 1000 : 0],
  ]);
  return lines.join('\n') + '\n';
}
