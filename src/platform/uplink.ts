// Processes gateway uplinks in arrival order, one handler per envelope kind. Consecutive data groups are
// decoded and stored in one transaction (the batched insert is what makes ingest fast). Every uplink's
// promise resolves once it is stored, so the broker acknowledges it to the gateway only then; a store
// error is retried with backoff, then the promise rejects and the gateway keeps and resends the message
// (the store is idempotent on gateway/epoch/seq, so a resend is harmless).
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  BirthEnvelope,
  CmdResultEnvelope,
  DataEnvelope,
  ReportEnvelope,
  StatusEnvelope,
  UplinkEnvelope,
  WillEnvelope,
} from '../protocol/envelope.ts';
import { decodeDataGroup, IdentifiedBy, type DecodedFrame } from './ingest/contracts-stage.ts';
import type { Platform } from './platform.ts';

interface Pending {
  envelope: UplinkEnvelope;
  receivedAt: number;
  resolve(): void;
  reject(err: Error): void;
}

/** An uplink could not be stored after every retry; its publisher is not acknowledged. */
export class UplinkStoreError extends Error {
  override readonly name = 'UplinkStoreError';
}

/** Ordered kinds are applied at most once per (gateway, epoch, seq) (docs/protocol.md). */
const DEDUPED_KINDS = new Set(['data', 'cmd-result', 'status']);
const epochKey = (gatewayId: string) => `epoch:${gatewayId}`;

export class UplinkProcessor {
  readonly #queue: Pending[] = [];
  #draining: Promise<void> | undefined;
  /** deviceId → registered contract id (null when none was identified). */
  readonly #devices = new Map<string, string | null>();
  readonly #gateways = new Set<string>();
  readonly #epochs = new Map<string, string>();
  /** `${gw}\0${epoch}` → highest applied seq of the ordered stream. */
  readonly #applied = new Map<string, number>();
  /** `${key}\0${seq}` of messages that failed below the high-water mark: their resend is applied. */
  readonly #holes = new Set<string>();
  /** #applied entries changed by the attempt in progress, with their value before it (rolled back on failure). */
  #undo: Map<string, number | undefined> | undefined;

  constructor(private readonly platform: Platform) {}

  async load(): Promise<void> {
    const { store } = this.platform;
    for (const gw of await store.listGateways()) {
      this.#gateways.add(gw.id);
      const epoch = await store.getSetting(epochKey(gw.id));
      if (epoch) this.#epochs.set(gw.id, epoch);
    }
    for (let offset = 0; ;) {
      const page = await store.listDevices({ offset, limit: 1000 });
      for (const d of page.items) {
        this.#devices.set(d.id, d.contractId);
        this.platform.online.restoreDevice(d.id, d.gatewayId, d.pollMs, d.online, d.lastSeen);
      }
      offset += page.items.length;
      if (page.items.length === 0 || offset >= page.total) break;
    }
  }

  /** The device was edited through the API: decode with its new contract from now on. */
  deviceUpdated(deviceId: string, contractId: string | null): void {
    this.#devices.set(deviceId, contractId);
  }

  /** Epochs stored by other instances (shared subscriptions: the birth may have gone to another one). */
  async refreshEpochs(): Promise<void> {
    for (const gatewayId of this.#gateways) {
      const epoch = await this.platform.store.getSetting(epochKey(gatewayId));
      if (epoch) this.#epochs.set(gatewayId, epoch);
    }
  }

  /** Resolves once the uplink is stored; rejects (UplinkStoreError) when the store keeps failing. */
  enqueue(envelope: UplinkEnvelope, receivedAt: number): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      this.#queue.push({ envelope, receivedAt, resolve, reject });
    });
    if (!this.#draining) this.#draining = this.#drain().finally(() => (this.#draining = undefined));
    return done;
  }

  /** Uplinks received and not yet taken up for processing. */
  get queueDepth(): number {
    return this.#queue.length;
  }

  async whenIdle(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.platform.config.maxIngestBatch);
      let data: Pending[] = [];
      for (const item of batch) {
        if (item.envelope.k === 'data') {
          data.push(item);
          continue;
        }
        if (data.length) await this.#settle(data, () => this.#data(data));
        data = [];
        await this.#settle([item], () => this.#one(item));
      }
      if (data.length) await this.#settle(data, () => this.#data(data));
    }
  }

  /**
   * Runs `work` for a run of uplinks and settles their promises together: retried with backoff while
   * the store fails, then rejected so the publishers keep the messages. The stream goes on either way.
   */
  async #settle(items: Pending[], work: () => Promise<void>): Promise<void> {
    const { ingestRetries, ingestRetryMs } = this.platform.config;
    for (let attempt = 0; ; attempt++) {
      this.#undo = new Map();
      try {
        await work();
        this.#undo = undefined;
        for (const item of items) item.resolve();
        return;
      } catch (err) {
        this.#rollback();
        if (attempt < ingestRetries) {
          this.platform.logger?.warn({ err, attempt: attempt + 1 }, 'uplink not stored; retrying');
          await sleep(ingestRetryMs * 2 ** attempt);
          continue;
        }
        this.platform.logger?.error({ err, messages: items.length }, 'uplink not stored; not acknowledged');
        for (const { envelope } of items) this.#markHole(envelope);
        this.platform.metrics.notStored(items.map((item) => item.envelope));
        const failure = new UplinkStoreError(`uplink not stored after ${attempt + 1} attempts`, {
          cause: err,
        });
        for (const item of items) item.reject(failure);
        return;
      }
    }
  }

  /** Undoes the dedup marks of a failed attempt, so the retry (or the resend) is applied. */
  #rollback(): void {
    const undo = this.#undo;
    this.#undo = undefined;
    if (!undo) return;
    for (const [key, prev] of undo) {
      if (prev === undefined) this.#applied.delete(key);
      else this.#applied.set(key, prev);
    }
  }

  /** A later message may already have raised the high-water mark: the resend of this one must still go in. */
  #markHole(envelope: UplinkEnvelope): void {
    if (DEDUPED_KINDS.has(envelope.k)) this.#holes.add(`${this.#key(envelope.gw)}\u0000${envelope.seq}`);
  }

  #key(gatewayId: string): string {
    return `${gatewayId}\u0000${this.#epoch(gatewayId)}`;
  }

  #epoch(gatewayId: string): string {
    return this.#epochs.get(gatewayId) ?? '';
  }

  /** True when this ordered message was already applied (a resend after an outage). */
  #seen(envelope: UplinkEnvelope): boolean {
    if (!DEDUPED_KINDS.has(envelope.k)) return false;
    const key = this.#key(envelope.gw);
    const last = this.#applied.get(key);
    if (last !== undefined && envelope.seq <= last) {
      if (this.#holes.size === 0) return true;
      return !this.#holes.delete(`${key}\u0000${envelope.seq}`);
    }
    if (this.#undo && !this.#undo.has(key)) this.#undo.set(key, last);
    this.#applied.set(key, envelope.seq);
    return false;
  }

  async #gateway(gatewayId: string, now: number, touch = true): Promise<void> {
    const { platform } = this;
    if (!this.#gateways.has(gatewayId)) {
      if (await platform.store.ensureGateway(gatewayId, now)) {
        await platform.recordEvent('registered', 'gateway', gatewayId, now);
      }
      // only once stored: a failed write is tried again with the message's retry or resend
      this.#gateways.add(gatewayId);
      platform.heartbeat.addGateway(gatewayId, now);
    }
    if (touch) await platform.store.touchGateway(gatewayId, now);
  }

  async #one({ envelope, receivedAt }: Pending): Promise<void> {
    await this.#gateway(envelope.gw, receivedAt);
    if (envelope.k !== 'will' && envelope.k !== 'birth') {
      await this.platform.applyOnlineChanges(this.platform.online.uplink(envelope.gw, receivedAt));
    }
    if (this.#seen(envelope)) return;
    switch (envelope.k) {
      case 'birth':
        return this.#birth(envelope, receivedAt);
      case 'will':
        return this.#will(envelope, receivedAt);
      case 'cmd-result':
        return this.#cmdResult(envelope, receivedAt);
      case 'status':
        return this.#status(envelope, receivedAt);
      case 'report':
        return this.#report(envelope, receivedAt);
    }
  }

  async #birth(birth: BirthEnvelope, now: number): Promise<void> {
    const { platform } = this;
    if (this.#epochs.get(birth.gw) !== birth.epoch) {
      this.#epochs.set(birth.gw, birth.epoch);
      await platform.store.setSetting(epochKey(birth.gw), birth.epoch);
    }
    for (const d of birth.devices) {
      const contract = platform.contracts.get(d.c) ? d.c : null;
      await this.#registerDevice(d.dev, birth.gw, contract, now, IdentifiedBy.Declared, d.pollMs, d.model);
      platform.online.describeDevice(d.dev, birth.gw, d.pollMs ?? null);
    }
    await platform.applyOnlineChanges(platform.online.birth(birth.gw, birth.seq, birth.epoch, now));
    // docs/protocol.md: the platform answers a birth with a heartbeat at once.
    for (const gatewayId of platform.heartbeat.birth(birth.gw, now)) platform.sendHeartbeat(gatewayId);
  }

  async #will(will: WillEnvelope, now: number): Promise<void> {
    const changes = this.platform.online.will(will.gw, will.seq, will.epoch, now, will.reason);
    await this.platform.applyOnlineChanges(changes);
  }

  async #cmdResult(result: CmdResultEnvelope, now: number): Promise<void> {
    await this.platform.answer(
      {
        kind: 'cmd-result',
        id: result.id,
        ok: result.ok,
        result: result.result,
        error: result.error,
        cached: result.cached,
      },
      now,
    );
  }

  async #status(status: StatusEnvelope, now: number): Promise<void> {
    await this.platform.answer(
      {
        kind: 'status',
        id: status.id,
        complete: status.complete,
        status: status.status,
        error: status.error,
      },
      now,
    );
  }

  async #report(report: ReportEnvelope, now: number): Promise<void> {
    const { platform } = this;
    await platform.store.saveReport({
      gatewayId: report.gw,
      epoch: this.#epoch(report.gw),
      seq: report.seq,
      ts: report.ts,
      receivedAt: now,
      body: report.report,
    });
    // Every report is acknowledged, also one stored before (its first ack was lost).
    platform.publishDown(report.gw, { v: 1, k: 'report-ack', gw: report.gw, ts: now, ack: report.seq });
  }

  async #registerDevice(
    deviceId: string,
    gatewayId: string,
    contractId: string | null,
    now: number,
    identifiedBy: string,
    pollMs?: number,
    model?: string,
  ): Promise<void> {
    const { store } = this.platform;
    const known = this.#devices.get(deviceId);
    if (known === undefined) {
      const created = await store.ensureDevice({ id: deviceId, gatewayId, contractId, pollMs, model }, now);
      if (created) {
        await this.platform.recordEvent('registered', 'device', deviceId, now, {
          gatewayId,
          contractId,
          identifiedBy,
        });
      }
      this.#devices.set(deviceId, contractId);
      return;
    }
    const patch: { contractId?: string; pollMs?: number; model?: string } = {};
    if (!known && contractId) patch.contractId = contractId;
    if (pollMs !== undefined) patch.pollMs = pollMs;
    if (model !== undefined) patch.model = model;
    if (Object.keys(patch).length > 0) {
      await store.updateDeviceAsset(deviceId, patch, now);
      if (patch.contractId) {
        this.#devices.set(deviceId, contractId);
        await this.platform.recordEvent('identified', 'device', deviceId, now, { contractId, identifiedBy });
      }
    }
  }

  /** A run of data groups: decode every frame, register new devices, store all readings in one batch. */
  async #data(items: Pending[]): Promise<void> {
    const { platform } = this;
    const decoded: DecodedFrame[] = [];
    const seenDevices = new Map<string, { gatewayId: string; at: number }>();
    // Last communication is written once per gateway for the whole run, not once per data group.
    const seenGateways = new Map<string, number>();
    let duplicates = 0;
    for (const { envelope, receivedAt } of items) {
      const group = envelope as DataEnvelope;
      await this.#gateway(group.gw, receivedAt, false);
      seenGateways.set(group.gw, Math.max(receivedAt, seenGateways.get(group.gw) ?? 0));
      await platform.applyOnlineChanges(platform.online.uplink(group.gw, receivedAt));
      if (this.#seen(group)) {
        duplicates += group.frames.length;
        continue;
      }
      const frames = decodeDataGroup(group, this.#epoch(group.gw), receivedAt, platform.contracts, (id) =>
        this.#devices.get(id),
      );
      for (const frame of frames) {
        const { deviceId, contractId } = frame.reading;
        const known = this.#devices.get(deviceId);
        if (
          known === undefined ||
          (known === null && contractId && frame.identifiedBy !== IdentifiedBy.Unknown)
        ) {
          const identified = frame.identifiedBy === IdentifiedBy.Unknown ? null : contractId;
          await this.#registerDevice(deviceId, group.gw, identified, receivedAt, frame.identifiedBy);
        }
        seenDevices.set(deviceId, { gatewayId: group.gw, at: receivedAt });
        decoded.push(frame);
      }
    }
    for (const [gatewayId, at] of seenGateways) await platform.store.touchGateway(gatewayId, at);
    if (decoded.length === 0) return platform.metrics.stored([], undefined, duplicates);
    const commitStarted = performance.now();
    await platform.store.insertReadings(decoded.map((d) => d.reading));
    const commitSeconds = (performance.now() - commitStarted) / 1000;
    for (const [deviceId, { gatewayId, at }] of seenDevices) {
      await platform.applyOnlineChanges(platform.online.reading(deviceId, gatewayId, at));
    }
    const byTime = new Map<number, string[]>();
    for (const [deviceId, { at }] of seenDevices) byTime.set(at, [...(byTime.get(at) ?? []), deviceId]);
    for (const [at, ids] of byTime) await platform.store.touchDevices(ids, at);
    for (const { message } of decoded) {
      platform.publishTelemetry(message.dev, Buffer.from(JSON.stringify(message)));
      platform.notify({ type: 'telemetry', message });
    }
    platform.metrics.stored(decoded, commitSeconds, duplicates);
  }
}
