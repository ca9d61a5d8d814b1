export { AccessProxy, type AccessProxyDeps } from './proxy.ts';
export { ClientSession } from './client-session.ts';
export {
  parseAccessOptions,
  parseUpstream,
  type AccessOptions,
  type AccessOptionsInput,
  type UpstreamConfig,
} from './config.ts';
export { AccessCounters, type TransitionRecord } from './counters.ts';
export { FailoverController, Upstream, DownCause, TransitionKind, type Transition } from './failover.ts';
export { DedupWindow } from './dedup.ts';
export { PacketIdMap } from './packet-ids.ts';
export { Backoff } from './backoff.ts';
export { PendingMerge, mergeConnack, mergeSuback, mergeUnsuback } from './ack-merge.ts';
export { renderPrometheus } from './metrics.ts';
export { AccessConfigError, UpstreamError, ClientProtocolError } from './errors.ts';
export { SysTopic } from './sys-topics.ts';
export {
  DualBrokerClient,
  type DualBrokerClientOptions,
  type DualBrokerClientEvents,
  type BrokerRef,
} from './dual-broker-client.ts';
