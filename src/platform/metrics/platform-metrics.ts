// The platform's Prometheus metrics: what ingest stored and refused, how long its batch commits take,
// and — read at scrape time — the ingest queue, commands awaiting an answer and who is online. Served on
// the metrics listener next to the broker's (mqiot up, mqiot cloud) or on its own (mqiot cloud --broker).
import { Registry } from './prom-text.ts';

/** Why frames of a data group did not become readings (a fixed set: each is one series). */
export const FrameRejection = {
  /** No contract declared, registered or detected: stored raw, with an error. */
  UnknownContract: 'unknown-contract',
  /** The contract refused the frame (framing, checksum, exception answer…): stored raw, with an error. */
  DecodeError: 'decode-error',
  /** A resend of a data group already stored (applied at most once). */
  Duplicate: 'duplicate',
  /** The store kept failing: the group was not acknowledged; the gateway sends it again. */
  NotStored: 'not-stored',
} as const;
export type FrameRejection = (typeof FrameRejection)[keyof typeof FrameRejection];

/** Why a whole uplink message was dropped before its frames could be looked at. */
export const UplinkRejection = {
  /** Not a valid envelope (CBOR/JSON, fields): docs/protocol.md. */
  InvalidEnvelope: 'invalid-envelope',
  /** Its `gw` is not the gateway of its topic. */
  ForeignGateway: 'foreign-gateway',
} as const;
export type UplinkRejection = (typeof UplinkRejection)[keyof typeof UplinkRejection];

/** Batch commit buckets, seconds: from a fast SQLite commit up to a PostgreSQL under load. */
const COMMIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface PlatformGauges {
  ingestQueueDepth(): number;
  commandsPending(): number;
  gatewaysOnline(): number;
  devicesOnline(): number;
}

/** A stored frame as far as the metrics care: did it decode, and if not, why. */
export interface StoredFrame {
  reading: { error?: { reason: string } | null };
}

export class PlatformMetrics {
  readonly #registry = new Registry();
  readonly #readings = this.#registry.counter(
    'mqiot_platform_readings_total',
    'Readings stored: one per device frame, decoded or kept raw with an error.',
  );
  readonly #frames = this.#registry
    .counter(
      'mqiot_platform_frames_rejected_total',
      'Frames that did not become decoded readings, by reason.',
      'reason',
    )
    .declare(...Object.values(FrameRejection));
  readonly #uplinks = this.#registry
    .counter(
      'mqiot_platform_uplinks_rejected_total',
      'Uplink messages dropped before their frames were looked at, by reason.',
      'reason',
    )
    .declare(...Object.values(UplinkRejection));
  readonly #commit = this.#registry.histogram(
    'mqiot_platform_batch_commit_seconds',
    'Time to commit one batch of readings to the store.',
    COMMIT_BUCKETS,
  );

  constructor(gauges: PlatformGauges) {
    const r = this.#registry;
    r.gauge('mqiot_platform_ingest_queue_depth', 'Uplinks received and not yet processed.', () =>
      gauges.ingestQueueDepth(),
    );
    r.gauge('mqiot_platform_commands_pending', 'Commands and status queries awaiting their answer.', () =>
      gauges.commandsPending(),
    );
    r.gauge('mqiot_platform_gateways_online', 'Gateways online now.', () => gauges.gatewaysOnline());
    r.gauge('mqiot_platform_devices_online', 'Devices online now.', () => gauges.devicesOnline());
  }

  /** A batch of frames was committed in `seconds`; `duplicates` frames of resent groups were skipped. */
  stored(frames: readonly StoredFrame[], seconds: number | undefined, duplicates = 0): void {
    if (seconds !== undefined) this.#commit.observe(seconds);
    this.#readings.inc(frames.length);
    for (const { reading } of frames) {
      if (!reading.error) continue;
      const unknown = reading.error.reason.startsWith(FrameRejection.UnknownContract);
      this.#frames.inc(1, unknown ? FrameRejection.UnknownContract : FrameRejection.DecodeError);
    }
    if (duplicates) this.#frames.inc(duplicates, FrameRejection.Duplicate);
  }

  /** Data groups the store kept refusing (the gateway resends them). */
  notStored(envelopes: readonly { k: string; frames?: readonly unknown[] }[]): void {
    for (const e of envelopes)
      if (e.k === 'data') this.#frames.inc(e.frames?.length ?? 0, FrameRejection.NotStored);
  }

  /** An uplink refused or dropped; `reason` is one of UplinkRejection or the gateway checks' reasons. */
  uplinkRejected(reason: UplinkRejection | string): void {
    this.#uplinks.inc(1, reason);
  }

  /** Uplinks refused so far, by reason (for /api/health). */
  uplinkRejections(): Record<string, number> {
    return this.#uplinks.values();
  }

  /** Readings stored since start (also what the dashboard's ingest rate is computed from). */
  get readings(): number {
    return this.#readings.value();
  }

  /** Prometheus text, without process metrics (the page it is appended to has them). */
  render(): string {
    return this.#registry.render();
  }
}
