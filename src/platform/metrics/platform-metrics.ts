// The platform's Prometheus metrics: what ingest stored and refused, how long its batch commits take,
// and — read at scrape time — the ingest queue, commands awaiting an answer and who is online. Served on
// the metrics listener next to the broker's (mqiot up, mqiot cloud) or on its own (mqiot cloud --broker).
// prom-client renders them; each PlatformMetrics has its own registry (not the library's global one), so
// several platforms in one process (tests, an edge beside a cloud) keep their figures apart.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

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
  readonly registry = new Registry();
  readonly #readings = new Counter({
    name: 'mqiot_platform_readings_total',
    help: 'Readings stored: one per device frame, decoded or kept raw with an error.',
    registers: [this.registry],
  });
  readonly #frames = new Counter({
    name: 'mqiot_platform_frames_rejected_total',
    help: 'Frames that did not become decoded readings, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly #uplinks = new Counter({
    name: 'mqiot_platform_uplinks_rejected_total',
    help: 'Uplink messages dropped before their frames were looked at, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly #commit = new Histogram({
    name: 'mqiot_platform_batch_commit_seconds',
    help: 'Time to commit one batch of readings to the store.',
    buckets: COMMIT_BUCKETS,
    registers: [this.registry],
  });
  // prom-client reads counters asynchronously; /api/health and /api/ingest read these at once
  #readingsTotal = 0;
  readonly #uplinkRejections = new Map<string, number>();

  constructor(gauges: PlatformGauges) {
    // every reason shows (as 0) before its first increment, so rates have a start
    for (const reason of Object.values(FrameRejection)) this.#frames.inc({ reason }, 0);
    for (const reason of Object.values(UplinkRejection)) this.#uplinks.inc({ reason }, 0);
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read());
        },
      });
    gauge('mqiot_platform_ingest_queue_depth', 'Uplinks received and not yet processed.', () =>
      gauges.ingestQueueDepth(),
    );
    gauge('mqiot_platform_commands_pending', 'Commands and status queries awaiting their answer.', () =>
      gauges.commandsPending(),
    );
    gauge('mqiot_platform_gateways_online', 'Gateways online now.', () => gauges.gatewaysOnline());
    gauge('mqiot_platform_devices_online', 'Devices online now.', () => gauges.devicesOnline());
  }

  /** A batch of frames was committed in `seconds`; `duplicates` frames of resent groups were skipped. */
  stored(frames: readonly StoredFrame[], seconds: number | undefined, duplicates = 0): void {
    if (seconds !== undefined) this.#commit.observe(seconds);
    this.#readings.inc(frames.length);
    this.#readingsTotal += frames.length;
    let unknown = 0;
    let failed = 0;
    for (const { reading } of frames) {
      if (!reading.error) continue;
      if (reading.error.reason.startsWith(FrameRejection.UnknownContract)) unknown++;
      else failed++;
    }
    if (unknown) this.#frames.inc({ reason: FrameRejection.UnknownContract }, unknown);
    if (failed) this.#frames.inc({ reason: FrameRejection.DecodeError }, failed);
    if (duplicates) this.#frames.inc({ reason: FrameRejection.Duplicate }, duplicates);
  }

  /** Data groups the store kept refusing (the gateway resends them). */
  notStored(frames: number): void {
    if (frames > 0) this.#frames.inc({ reason: FrameRejection.NotStored }, frames);
  }

  /** An uplink refused or dropped; `reason` is one of UplinkRejection or the gateway checks' reasons. */
  uplinkRejected(reason: UplinkRejection | string): void {
    this.#uplinks.inc({ reason });
    this.#uplinkRejections.set(reason, (this.#uplinkRejections.get(reason) ?? 0) + 1);
  }

  /** Uplinks refused so far, by reason (for /api/health). */
  uplinkRejections(): Record<string, number> {
    const out: Record<string, number> = Object.fromEntries(Object.values(UplinkRejection).map((r) => [r, 0]));
    for (const [reason, n] of this.#uplinkRejections) out[reason] = n;
    return out;
  }

  /** Readings stored since start (also what the dashboard's ingest rate is computed from). */
  get readings(): number {
    return this.#readingsTotal;
  }

  /** Prometheus text, without process metrics (the page it is appended to has them). */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
