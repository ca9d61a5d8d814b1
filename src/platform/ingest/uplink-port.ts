// What the uplink processor needs from the platform around it: its state (store, trackers, contracts,
// metrics, configuration) and the effects it asks for (events, online changes, downlinks, answers to
// commands). Platform satisfies it; declared here so that the processor does not import the class that
// owns it (no platform ⇄ uplink circle) and so that a test can hand it a small fake.
import type { Logger } from 'pino';
import type { DownlinkEnvelope, UplinkEnvelope } from '../../protocol/envelope.ts';
import type { CommandAnswer } from '../commands/command-manager.ts';
import type { PlatformConfig } from '../config.ts';
import type { ContractRegistry } from '../contract-registry.ts';
import type { PlatformNotification } from '../events.ts';
import type { PlatformMetrics } from '../metrics/platform-metrics.ts';
import type { HeartbeatScheduler } from '../online/heartbeat.ts';
import type { OnlineChange, OnlineTracker } from '../online/online-tracker.ts';
import type { CatalogSync } from '../models/catalog-sync.ts';
import type { DeviceModels } from '../models/device-models.ts';
import type { GatewayRecord, PlatformStore } from '../store/types.ts';

export interface UplinkHost {
  readonly config: Readonly<PlatformConfig>;
  readonly store: PlatformStore;
  readonly contracts: ContractRegistry;
  /** Device models: each device's model, and its points named by it (src/platform/models). */
  readonly deviceModels: DeviceModels;
  /** Births' catalogs compared with the platform's documents; the gateway's copies received. */
  readonly catalogs: CatalogSync;
  readonly logger: Logger | undefined;
  readonly online: OnlineTracker;
  readonly heartbeat: HeartbeatScheduler;
  readonly metrics: PlatformMetrics;
  /** A gateway record changed (read back from the store): listeners are told. */
  gatewayUpdated(gateway: GatewayRecord): void;
  /** The envelope of a queued uplink, or undefined when it is refused for good (already counted). */
  readUplink(gatewayId: string, payload: Buffer): UplinkEnvelope | undefined;
  /** An uplink refused on purpose: counted, recorded and logged (docs/threat-model.md). */
  uplinkRejected(gatewayId: string, reason: string, detail?: Record<string, unknown>): void;
  recordEvent(
    kind: string,
    subjectType: 'gateway' | 'device' | 'command' | 'contract',
    subjectId: string,
    ts: number,
    detail?: Record<string, unknown>,
  ): Promise<void>;
  applyOnlineChanges(changes: readonly OnlineChange[]): Promise<void>;
  /** A gateway's cmd-result or status answered a command or query. */
  answer(answer: CommandAnswer, now: number): Promise<void>;
  sendHeartbeat(gatewayId: string): void;
  publishDown(gatewayId: string, envelope: DownlinkEnvelope, expirySeconds?: number): void;
  /** Whether a device's telemetry message would reach any subscriber (else it is not even built). */
  telemetryWanted(deviceId: string): boolean;
  publishTelemetry(deviceId: string, payload: Buffer): void;
  notify(notification: PlatformNotification): void;
}
