// Which model each device is, and its readings as that model names them. A model comes from the
// gateway's birth (declared), an operator (set through the API) or the device's own frames (detected,
// with a confidence below 1). Detection keeps gathering evidence until the answer (a model, or none) has
// held for a while, then stops, so a settled device costs one map lookup and the point conversion per
// frame; a model uploaded or installed later starts it again.
import {
  addEvidence,
  applyModel,
  identifyModel,
  newEvidence,
  type Evidence,
} from '../../contracts/models/index.ts';
import type { Point } from '../../contracts/index.ts';
import type { DeviceModelRecord, PlatformStore } from '../store/types.ts';
import type { ModelRegistry } from './model-registry.ts';

export const ModelSource = { Declared: 'declared', Operator: 'operator', Detected: 'detected' } as const;
export type ModelSource = (typeof ModelSource)[keyof typeof ModelSource];

/** Below this a detected model is not assigned: "speaks the contract" alone (0.5) is not a model. */
export const MIN_CONFIDENCE = 0.6;
/** Frames in a row that change nothing (same model, or still none) before detection stops for the device. */
const SETTLE_FRAMES = 20;
/** Devices whose evidence is kept at once; beyond it the oldest is dropped (it starts again if seen). */
const MAX_TRACKED = 10_000;

/** What the service needs from each frame the contracts stage decoded (DecodedFrame fits). */
export interface ModelFrame {
  /** `error` is set (not null) for a frame that did not decode. */
  reading: {
    deviceId: string;
    contractId: string | null;
    receivedAt: number;
    points: Point[];
    error?: unknown;
  };
  fields: Record<string, unknown> | undefined;
}

export interface DeviceModelsDeps {
  store: PlatformStore;
  registry: ModelRegistry;
  recordEvent(kind: string, deviceId: string, ts: number, detail: Record<string, unknown>): Promise<void>;
}

export class DeviceModels {
  readonly #assigned = new Map<string, DeviceModelRecord>();
  readonly #tracking = new Map<string, { evidence: Evidence; steady: number }>();
  readonly #settled = new Set<string>();
  /** Model id → devices whose birth declared it before the platform had it (a catalog copy may bring it). */
  readonly #awaiting = new Map<string, Set<string>>();

  constructor(private readonly deps: DeviceModelsDeps) {}

  async load(): Promise<void> {
    for (const record of await this.deps.store.listDeviceModels())
      this.#assigned.set(record.deviceId, record);
  }

  get(deviceId: string): DeviceModelRecord | undefined {
    return this.#assigned.get(deviceId);
  }

  /**
   * Called by ingest for a run of decoded frames before they are stored: identifies the devices
   * still unsure of their model, then renames, converts and scales each frame's points by its model.
   */
  async annotate(frames: readonly ModelFrame[]): Promise<void> {
    // Settled devices (nearly all of them, after their first frames) are done without awaiting: a loop
    // that can await allocates per step, and this runs for every frame stored.
    for (let i = 0; i < frames.length; i++) {
      if (!this.#applySettled(frames[i]!)) return this.#annotateFrom(frames, i);
    }
  }

  /** Applies the model of a frame whose device needs no detection; false when it needs detection. */
  #applySettled(frame: ModelFrame): boolean {
    const { reading } = frame;
    if (reading.error || !reading.contractId) return true;
    const record = this.#assigned.get(reading.deviceId);
    if ((!record || record.identifiedBy === ModelSource.Detected) && !this.#settled.has(reading.deviceId))
      return false;
    this.#apply(frame, record);
    return true;
  }

  async #annotateFrom(frames: readonly ModelFrame[], start: number): Promise<void> {
    for (let i = start; i < frames.length; i++) {
      const frame = frames[i]!;
      const { reading } = frame;
      if (reading.error || !reading.contractId) continue;
      const deviceId = reading.deviceId;
      let record = this.#assigned.get(deviceId);
      if ((!record || record.identifiedBy === ModelSource.Detected) && !this.#settled.has(deviceId)) {
        record = await this.#detect(
          deviceId,
          reading.contractId,
          frame.fields,
          reading.points,
          reading.receivedAt,
        );
      }
      this.#apply(frame, record);
    }
  }

  /** The frame's points as its model names, converts and scales them (unchanged without a model). */
  #apply(frame: ModelFrame, record: DeviceModelRecord | undefined): void {
    const model = record && this.deps.registry.get(record.modelId);
    if (!model) return;
    const points = applyModel(model, frame.reading.points);
    frame.reading.points = points;
  }

  async #detect(
    deviceId: string,
    contractId: string,
    fields: Record<string, unknown> | undefined,
    points: readonly Point[],
    now: number,
  ): Promise<DeviceModelRecord | undefined> {
    let tracked = this.#tracking.get(deviceId);
    if (!tracked) {
      if (this.#tracking.size >= MAX_TRACKED) this.#tracking.delete(this.#tracking.keys().next().value!);
      tracked = { evidence: newEvidence(), steady: 0 };
      this.#tracking.set(deviceId, tracked);
    }
    addEvidence(tracked.evidence, contractId, fields, points);
    const current = this.#assigned.get(deviceId);
    const best = identifyModel(this.deps.registry.all(), tracked.evidence);
    const better =
      best !== undefined &&
      best.confidence >= MIN_CONFIDENCE &&
      (!current || best.confidence > current.confidence);
    if (!better) {
      // settled, with a model or without one (no model fits): a model added later starts it again
      if (++tracked.steady >= SETTLE_FRAMES) {
        this.#tracking.delete(deviceId);
        this.#settled.add(deviceId);
      }
      return current;
    }
    tracked.steady = 0;
    const record = await this.#assign(deviceId, best.model, best.confidence, ModelSource.Detected, now, {
      matched: best.matched,
      missing: best.missing,
    });
    return record;
  }

  /** The gateway's birth named a model for the device: taken when it is a model the platform knows. */
  async declare(deviceId: string, modelId: string | undefined, now: number): Promise<void> {
    if (modelId === undefined) return;
    if (!this.deps.registry.get(modelId)) {
      // free text ("sim power meter"), or a model the gateway's catalog is still to bring
      if (!this.#awaiting.has(modelId) && this.#awaiting.size >= MAX_TRACKED) return;
      this.#awaiting.set(modelId, (this.#awaiting.get(modelId) ?? new Set()).add(deviceId));
      return;
    }
    const current = this.#assigned.get(deviceId);
    if (current?.identifiedBy === ModelSource.Operator) return; // an operator's choice stands
    if (current?.modelId === modelId && current.identifiedBy === ModelSource.Declared) return;
    await this.#assign(deviceId, modelId, 1, ModelSource.Declared, now);
  }

  /** A model arrived (uploaded, or a gateway's copy installed): devices that declared it get it now. */
  async modelAdded(modelId: string, now: number): Promise<void> {
    this.#settled.clear(); // devices no model fitted may fit this one
    const devices = this.#awaiting.get(modelId);
    this.#awaiting.delete(modelId);
    for (const deviceId of devices ?? []) await this.declare(deviceId, modelId, now);
  }

  /** An operator sets (or, with null, clears) the device's model. */
  async set(deviceId: string, modelId: string | null, now: number): Promise<DeviceModelRecord | undefined> {
    this.#tracking.delete(deviceId);
    if (modelId === null) {
      this.#assigned.delete(deviceId);
      this.#settled.delete(deviceId); // detection may find one again
      await this.deps.store.clearDeviceModel(deviceId);
      await this.deps.recordEvent('model-cleared', deviceId, now, {});
      return undefined;
    }
    return this.#assign(deviceId, modelId, 1, ModelSource.Operator, now);
  }

  /** Devices deleted through the API (their rows went with them). */
  removed(deviceIds: readonly string[]): void {
    for (const id of deviceIds) {
      this.#assigned.delete(id);
      this.#tracking.delete(id);
      this.#settled.delete(id);
    }
  }

  async #assign(
    deviceId: string,
    modelId: string,
    confidence: number,
    identifiedBy: ModelSource,
    now: number,
    why?: { matched: string[]; missing: string[] },
  ): Promise<DeviceModelRecord> {
    const record: DeviceModelRecord = { deviceId, modelId, confidence, identifiedBy, updatedAt: now };
    await this.deps.store.setDeviceModel(record);
    // the device's asset `model`, empty until now, says which model it is
    const device = await this.deps.store.getDevice(deviceId);
    if (device && !device.model) await this.deps.store.updateDeviceAsset(deviceId, { model: modelId }, now);
    this.#assigned.set(deviceId, record);
    await this.deps.recordEvent('model-identified', deviceId, now, {
      modelId,
      confidence,
      identifiedBy,
      ...(why ?? {}),
    });
    return record;
  }
}
