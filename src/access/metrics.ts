// The access module's Prometheus metrics, rendered by prom-client from a registry of the module's own
// (not prom-client's global one, so several modules in one process keep their figures apart). Every
// figure is read from the counters and the live sessions at scrape time.
import { Counter, Gauge, Registry } from 'prom-client';
import type { AccessCounters } from './counters.ts';
import { UPSTREAM_NAMES, type Upstream } from './failover.ts';

/** What the Prometheus page needs to know about the live sessions. */
export interface SessionView {
  readonly active: Upstream | null;
  readonly upstreamUp: readonly [boolean, boolean];
}

type Samples = [labels: Record<string, string>, value: number][];

/** A metric whose samples `read` gives at each scrape (counters mirror figures kept in AccessCounters). */
function scraped(
  registry: Registry,
  type: 'counter' | 'gauge',
  name: string,
  help: string,
  labelNames: string[],
  read: () => Samples,
): void {
  if (type === 'gauge') {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.set(labels, value);
      },
    });
  } else {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.inc(labels, value);
      },
    });
  }
}

/** The module's registry: counters from `counters`, session gauges from `sessions()`, read per scrape. */
export function accessRegistry(counters: AccessCounters, sessions: () => Iterable<SessionView>): Registry {
  const registry = new Registry();
  const one = (value: () => number) => (): Samples => [[{}, value()]];
  const perUpstream = (values: () => readonly [number, number]) => (): Samples =>
    UPSTREAM_NAMES.map((upstream, i) => [{ upstream }, values()[i as Upstream]]);
  const sessionCounts = () => {
    const active = { broker1: 0, broker2: 0, none: 0 };
    const up: [number, number] = [0, 0];
    for (const s of sessions()) {
      active[s.active === null ? 'none' : UPSTREAM_NAMES[s.active]]++;
      if (s.upstreamUp[0]) up[0]++;
      if (s.upstreamUp[1]) up[1]++;
    }
    return { active, up };
  };
  const metric = (
    name: string,
    type: 'counter' | 'gauge',
    help: string,
    read: () => Samples,
    labelNames: string[] = [],
  ) => scraped(registry, type, name, help, labelNames, read);

  metric(
    'mqiot_access_clients_connected',
    'gauge',
    'Clients connected to the module.',
    one(() => counters.clientsConnected),
  );
  metric(
    'mqiot_access_clients_total',
    'counter',
    'Client connections accepted (CONNECT seen).',
    one(() => counters.clientsTotal),
  );
  metric(
    'mqiot_access_clients_refused_total',
    'counter',
    'Clients refused (no broker accepted).',
    one(() => counters.clientsRefused),
  );
  metric(
    'mqiot_access_sessions_active',
    'gauge',
    'Client sessions by the broker their PUBLISHes go to.',
    () => Object.entries(sessionCounts().active).map(([upstream, n]) => [{ upstream }, n]),
    ['upstream'],
  );
  metric(
    'mqiot_access_upstream_links_up',
    'gauge',
    'Upstream links that are connected.',
    perUpstream(() => sessionCounts().up),
    ['upstream'],
  );
  metric(
    'mqiot_access_upstream_connects_total',
    'counter',
    'Accepted upstream CONNECTs.',
    perUpstream(() => counters.upstreamConnects),
    ['upstream'],
  );
  metric(
    'mqiot_access_upstream_disconnects_total',
    'counter',
    'Upstream links lost.',
    perUpstream(() => counters.upstreamDowns),
    ['upstream'],
  );
  metric(
    'mqiot_access_messages_published_total',
    'counter',
    'PUBLISH sent to a broker.',
    perUpstream(() => counters.published),
    ['upstream'],
  );
  metric(
    'mqiot_access_messages_acknowledged_total',
    'counter',
    'QoS 1/2 PUBLISH completed by a broker.',
    perUpstream(() => counters.acknowledged),
    ['upstream'],
  );
  metric(
    'mqiot_access_messages_delivered_total',
    'counter',
    'PUBLISH delivered to clients, by source broker.',
    perUpstream(() => counters.delivered),
    ['upstream'],
  );
  metric(
    'mqiot_access_duplicates_dropped_total',
    'counter',
    "Copies dropped because the other broker's copy was delivered.",
    one(() => counters.duplicatesDropped),
  );
  metric(
    'mqiot_access_messages_resent_total',
    'counter',
    'Unfinished QoS 1/2 messages sent again to the other broker.',
    one(() => counters.resent),
  );
  metric(
    'mqiot_access_qos0_dropped_total',
    'counter',
    'QoS 0 PUBLISH dropped while no broker was up.',
    one(() => counters.droppedQos0),
  );
  metric(
    'mqiot_access_failovers_total',
    'counter',
    'Switches away from a lost active broker.',
    one(() => counters.failovers),
  );
  metric(
    'mqiot_access_failbacks_total',
    'counter',
    'Returns to Broker1 after the hold time.',
    one(() => counters.failbacks),
  );
  metric(
    'mqiot_access_outages_total',
    'counter',
    'Times a session had no broker at all.',
    one(() => counters.outages),
  );
  metric(
    'mqiot_access_transitions_by_cause_total',
    'counter',
    'Failovers, failbacks and outages by cause.',
    () => [...counters.causes].map(([cause, n]) => [{ cause }, n]),
    ['cause'],
  );
  metric(
    'mqiot_access_last_failover_timestamp_seconds',
    'gauge',
    'Time of the last failover.',
    one(() => (counters.lastOf('failover')?.at ?? 0) / 1000),
  );
  metric(
    'mqiot_access_last_failback_timestamp_seconds',
    'gauge',
    'Time of the last failback.',
    one(() => (counters.lastOf('failback')?.at ?? 0) / 1000),
  );
  return registry;
}

/** Prometheus text exposition format 0.0.4 for the module's counters and these sessions. */
export function renderPrometheus(counters: AccessCounters, sessions: Iterable<SessionView>): Promise<string> {
  const list = [...sessions];
  return accessRegistry(counters, () => list).metrics();
}
