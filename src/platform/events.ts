// Typed in-process notifications from the platform (for the HTTP API's live views and tests).
import type { TelemetryMessage } from './ingest/contracts-stage.ts';
import type { CommandRecord, EventRecord } from './store/types.ts';

export type PlatformNotification =
  | { type: 'telemetry'; message: TelemetryMessage }
  | { type: 'event'; event: EventRecord }
  | { type: 'command'; record: CommandRecord };

export type PlatformListener = (notification: PlatformNotification) => void;
