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
} from '../../protocol/envelope.ts';
import { acceptsBirthAnchor, judgeSeq, SeqVerdict, type StreamState } from '../gateways/seq-window.ts';
import { decodeDataGroup, IdentifiedBy, telemetryMessage, type DecodedFrame } from './contracts-stage.ts';
import type { UplinkHost } from './uplink-port.ts';
import { UnknownGateways } from '../config.ts';
import { Lifecycle, type ReadingInput, type StreamMark } from '../store/types.ts';

/** An uplink as received, waiting in the queue. */
interface Queued {
  gatewayId: string;
  payload: Buffer;
  receivedAt: number;
  trusted: boolean;
  resolve(): void;
  reject(err: Error): void;
}

/** An uplink taken up for processing, its envelope decoded. */
interface Pending {
  envelope: UplinkEnvelope;
  /** A data group's frames, once its readings are prepared (the envelope's frames are let go then). */
  frameCount?: number;
  /** The message as received, for a data group: stored as its raw frames (ReadingInput.envelope). */
  bytes?: Uint8Array;
  receivedAt: number;
  /** The broker vouches that the gateway itself sent it (or the path relies on the broker's ACLs). */
  trusted: boolean;
  /** Set while processing when this uplink is refused for good (its promise rejects with it). */
  refused?: UplinkRejected;
  resolve(): void;
  reject(err: Error): void;
}

/** An uplink could not be stored after every retry; its publisher is not acknowledged. */
export class UplinkStoreError extends Error {
  override readonly name = 'UplinkStoreError';
}

/**
 * An uplink the platform refuses on purpose (seq beyond the window, a publisher that is not the
 * gateway, a pending gateway): not stored, not acknowledged in process (a real gateway keeps it and
 * sends it again later), counted and recorded. Expected bad input: it carries no stack trace.
 */
export class UplinkRejected extends Error {
  override readonly name = 'UplinkRejected';
  /** Deliberate: the broker does not log it again per message (src/broker/local-client.ts). */
  readonly expected = true;
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.stack = `${this.name}: ${message}`;
  }
}

/** Ordered kinds are applied at most once per (gateway, epoch, seq) (docs/protocol.md). */
const DEDUPED_KINDS = new Set(['data', 'cmd-result', 'status']);
/** MQTT message expiry of a `data-ack` (seconds). */
const DATA_ACK_EXPIRY_S = 60;
const epochKey = (gatewayId: string) => `epoch:${gatewayId}`;
/** Most event-loop turns a batch waits for more uplinks to arrive (see #gather). */
const GATHER_TURNS = 8;

export class UplinkProcessor {
  readonly #queue: Queued[] = [];
  #draining: Promise<void> | undefined;
  /** deviceId → registered contract id (null when none was identified). */
  readonly #devices = new Map<string, string | null>();
  readonly #gateways = new Set<string>();
  /** Gateways recorded as pending: their uplink is refused until an operator activates them. */
  readonly #pending = new Set<string>();
  readonly #epochs = new Map<string, string>();
  /** `${gw}\0${epoch}` → dedup state of the ordered stream (persisted in gateway_streams). */
  readonly #streams = new Map<string, StreamState>();
  /** `${key}\0${seq}` of messages that failed below the high-water mark: their resend is applied. */
  readonly #holes = new Set<string>();
  /** #streams entries changed by the attempt in progress, with their value before it (rolled back on failure). */
  #undo: Map<string, StreamState | undefined> | undefined;
  /** Commits of the data runs handed to the store, oldest first (see #dataRun). */
  readonly #inFlight: Promise<void>[] = [];
  /** Wakes a drain that waits on a commit because the queue was empty: an uplink arrived. */
  #arrived: (() => void) | undefined;

  constructor(private readonly platform: UplinkHost) {}

  async load(): Promise<void> {
    const { store } = this.platform;
    for (const gw of await store.listGateways()) {
      this.#gateways.add(gw.id);
      if (gw.lifecycle === Lifecycle.Pending) this.#pending.add(gw.id);
      const epoch = await store.getSetting(epochKey(gw.id));
      if (epoch) this.#epochs.set(gw.id, epoch);
      await this.#loadStream(gw.id);
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

  /**
   * Deleted through the API: a device that sends again is registered anew; a gateway is treated like
   * any unknown one. Its epoch and dedup marks stay, so old resends are still recognised.
   */
  removed(gatewayId: string | undefined, deviceIds: readonly string[]): void {
    for (const id of deviceIds) this.#devices.delete(id);
    if (gatewayId === undefined) return;
    this.#gateways.delete(gatewayId);
    this.#pending.delete(gatewayId);
  }

  /**
   * Epochs stored by other instances (shared subscriptions: the birth may have gone to another one),
   * and pending gateways activated elsewhere (the CLI, another instance): they get heartbeats again.
   */
  async refreshEpochs(): Promise<void> {
    for (const gatewayId of [...this.#pending]) {
      const record = await this.platform.store.getGateway(gatewayId);
      if (!record || record.lifecycle === Lifecycle.Pending) continue;
      this.#pending.delete(gatewayId);
      this.platform.gatewayUpdated(record);
    }
    for (const gatewayId of this.#gateways) {
      const epoch = await this.platform.store.getSetting(epochKey(gatewayId));
      if (epoch && this.#epochs.get(gatewayId) !== epoch) {
        this.#epochs.set(gatewayId, epoch);
        await this.#loadStream(gatewayId);
      }
    }
  }

  /** The stored dedup state of the gateway's current epoch, merged into memory (marks only rise). */
  async #loadStream(gatewayId: string): Promise<StreamState> {
    const key = this.#key(gatewayId);
    const stored = await this.platform.store.getStreamMark(gatewayId, this.#epoch(gatewayId));
    const mine = this.#streams.get(key);
    const state: StreamState = {
      applied: maxOf(mine?.applied ?? null, stored.appliedSeq),
      birth: maxOf(mine?.birth ?? null, stored.birthSeq),
    };
    this.#streams.set(key, state);
    return state;
  }

  /** The registry knows this gateway (it registered, or an operator created it). */
  knowsGateway(gatewayId: string): boolean {
    return this.#gateways.has(gatewayId);
  }

  /** A gateway created through the API or CLI of this process. */
  gatewayCreated(gatewayId: string): void {
    this.#gateways.add(gatewayId);
  }

  /**
   * Resolves once the uplink is stored; rejects (UplinkStoreError) when the store keeps failing, or
   * (UplinkRejected) when it is refused for good. `trusted`: see Pending.
   */
  enqueue(gatewayId: string, payload: Buffer, receivedAt: number, trusted = true): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      this.#queue.push({ gatewayId, payload, receivedAt, trusted, resolve, reject });
    });
    if (!this.#draining) this.#draining = this.#drain().finally(() => (this.#draining = undefined));
    this.#arrived?.();
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
    for (;;) {
      if (this.#queue.length === 0) {
        if (this.#inFlight.length === 0) return;
        // the next uplink is prepared as soon as it arrives, while the commits run
        await Promise.race([this.#inFlight[0], new Promise<void>((resolve) => (this.#arrived = resolve))]);
        this.#arrived = undefined;
        continue;
      }
      await this.#gather();
      const batch = this.#take(this.#queue.splice(0, this.#batchLimit()));
      let data: Pending[] = [];
      for (const item of batch) {
        if (item.envelope.k === 'data') {
          data.push(item);
          continue;
        }
        if (data.length) await this.#dataRun(data);
        data = [];
        // every other kind is applied in order with the data before it: after its commit
        await this.#committed();
        await this.#settle([item], () => this.#one(item));
      }
      if (data.length) await this.#dataRun(data);
    }
  }

  /**
   * Decodes the uplinks taken up for a batch (the queue holds their bytes only). One refused for good is
   * answered at once: the platform counted and logged it.
   */
  #take(queued: readonly Queued[]): Pending[] {
    const out: Pending[] = [];
    for (const { gatewayId, payload, receivedAt, trusted, resolve, reject } of queued) {
      const envelope = this.platform.readUplink(gatewayId, payload);
      if (!envelope) resolve();
      else {
        const bytes = envelope.k === 'data' ? payload : undefined;
        out.push({ envelope, bytes, receivedAt, trusted, resolve, reject });
      }
    }
    return out;
  }

  /** Resolves once every data run handed to the store so far is committed (or given up). */
  async #committed(): Promise<void> {
    while (this.#inFlight.length > 0) await this.#inFlight[this.#inFlight.length - 1];
  }

  /**
   * A run of data groups: decoded, checked and registered now; then stored after the run before it,
   * without waiting for that: while one batch commits in the PostgreSQL server, the next is decoded
   * (with SQLite, whose commit runs in this thread, the next run is ready when it ends). Commits stay
   * in arrival order.
   */
  async #dataRun(items: Pending[]): Promise<void> {
    // one run committing and one waiting at most: decoding never runs far ahead of the store
    while (this.#inFlight.length >= 2) await this.#inFlight[0];
    this.#undo = new Map();
    let prepared: PreparedData;
    try {
      for (const item of items) item.refused = undefined;
      prepared = await this.#prepareData(items);
      this.#letFramesGo(items);
    } catch (err) {
      // the store failed while preparing: undone, and the run goes again whole, after what is in flight
      this.platform.logger?.warn({ err }, 'uplink not prepared; retrying');
      this.#rollback();
      await this.#committed();
      return this.#settle(items, () => this.#data(items));
    }
    this.#undo = undefined;
    const previous = this.#inFlight[this.#inFlight.length - 1];
    const commit = (async () => {
      await previous;
      try {
        await this.#commitRun(prepared);
      } catch (err) {
        // not a store error (those are settled in #commitRun): the uplinks must still be answered, and
        // the runs behind this one go on
        this.#giveUp(prepared.items, err, 0);
      }
    })().finally(() => this.#inFlight.splice(this.#inFlight.indexOf(commit), 1));
    this.#inFlight.push(commit);
  }

  /**
   * Stores a prepared run, retried with backoff while the store fails, then settles its uplinks. Its
   * dedup marks are not rolled back when it is given up (a later run may already build on them): its
   * groups are recorded as holes instead, so their resends are applied.
   */
  async #commitRun(prepared: PreparedData): Promise<void> {
    await this.#withRetries(prepared.items, () => this.#commitData(prepared));
  }

  /** The store kept failing: the publishers are not acknowledged, so they keep the messages and resend. */
  #giveUp(items: Pending[], err: unknown, attempt: number): void {
    this.platform.logger?.error({ err, messages: items.length }, 'uplink not stored; not acknowledged');
    for (const { envelope } of items) this.#markHole(envelope);
    let frames = 0;
    for (const { envelope, frameCount } of items)
      if (envelope.k === 'data') frames += frameCount ?? envelope.frames.length;
    this.platform.metrics.notStored(frames);
    const failure = new UplinkStoreError(`uplink not stored after ${attempt + 1} attempts`, {
      cause: err,
    });
    for (const item of items) item.reject(failure);
  }

  /**
   * Uplinks per batch: maxIngestBatch, and more with many devices (one per two devices the platform
   * knows, at most five times as many). A batch writes a block, a rollup and a latest value for every
   * series it touches: with thousands of devices, a batch of maxIngestBatch data groups held a reading
   * or two per series, and those rows were most of the work (bench/ingest, 5,000 devices, in process:
   * about 41k readings/s with 200 groups a batch, 73k with 1,000). With few devices more per batch only
   * means more kept alive until the commit (100 devices: 400 was slower than 200).
   */
  #batchLimit(): number {
    const { maxIngestBatch } = this.platform.config;
    return Math.min(maxIngestBatch * 5, Math.max(maxIngestBatch, Math.floor(this.#devices.size / 2)));
  }

  /**
   * Lets uplinks already on their way join the batch: while the queue is short of a full batch and the
   * last turn of the event loop (the broker reading its sockets) brought more, one more turn. A batch is
   * thus as large as the arrivals allow, not one socket read — one transaction and one block per series
   * for all of it — and a lone uplink waits one turn at most.
   */
  async #gather(): Promise<void> {
    const limit = this.#batchLimit();
    for (let turn = 0; turn < GATHER_TURNS && this.#queue.length < limit; turn++) {
      const before = this.#queue.length;
      await new Promise((resolve) => setImmediate(resolve));
      if (this.#queue.length === before) return;
    }
  }

  /**
   * Runs `work` for a run of uplinks and settles their promises together: retried with backoff while
   * the store fails, then rejected so the publishers keep the messages. The stream goes on either way.
   */
  async #settle(items: Pending[], work: () => Promise<void>): Promise<void> {
    await this.#withRetries(
      items,
      async () => {
        this.#undo = new Map();
        for (const item of items) item.refused = undefined;
        await work();
        this.#undo = undefined;
      },
      () => this.#rollback(),
    );
  }

  /**
   * Runs `attempt` until it succeeds, at most `ingestRetries` more times with a doubling backoff, then
   * settles the uplinks: each resolves, or rejects with its refusal, or — when every attempt failed —
   * rejects so that its publisher keeps it (#giveUp). `failed` runs after each failed attempt.
   */
  async #withRetries(items: Pending[], attempt: () => Promise<void>, failed?: () => void): Promise<void> {
    const { ingestRetries, ingestRetryMs } = this.platform.config;
    for (let n = 0; ; n++) {
      try {
        await attempt();
        for (const item of items) {
          if (item.refused) item.reject(item.refused);
          else item.resolve();
        }
        return;
      } catch (err) {
        failed?.();
        if (n < ingestRetries) {
          this.platform.logger?.warn({ err, attempt: n + 1 }, 'uplink not stored; retrying');
          await sleep(ingestRetryMs * 2 ** n);
          continue;
        }
        this.#giveUp(items, err, n);
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
      if (prev === undefined) this.#streams.delete(key);
      else this.#streams.set(key, prev);
    }
  }

  /** Remembers a stream's state before the attempt changes it, then sets the new one. */
  #setStream(key: string, next: StreamState): void {
    if (this.#undo && !this.#undo.has(key)) {
      const prev = this.#streams.get(key);
      this.#undo.set(key, prev && { ...prev });
    }
    this.#streams.set(key, next);
  }

  #stream(key: string): StreamState {
    return this.#streams.get(key) ?? { applied: null, birth: null };
  }

  /** The mark to persist for a gateway's stream, as it stands now. */
  #mark(gatewayId: string): StreamMark {
    const state = this.#stream(this.#key(gatewayId));
    return { gatewayId, epoch: this.#epoch(gatewayId), appliedSeq: state.applied, birthSeq: state.birth };
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

  /**
   * Judges an ordered message's seq (src/platform/gateways/seq-window.ts): true when it is to be
   * applied now (the mark is raised), false for a resend already applied or a seq refused for being
   * beyond the window (then `item.refused` is set, and it is counted and recorded).
   */
  async #admit(item: Pending): Promise<boolean> {
    const { envelope } = item;
    if (!DEDUPED_KINDS.has(envelope.k)) return true;
    const key = this.#key(envelope.gw);
    const holeKey = `${key}\u0000${envelope.seq}`;
    let state = this.#stream(key);
    let verdict = judgeSeq(envelope.seq, state, this.platform.config.seqWindow, this.#holes.has(holeKey));
    if (verdict === SeqVerdict.TooFar) {
      // another instance (shared subscription) may have moved the stream on: ask the store first
      state = await this.#loadStream(envelope.gw);
      verdict = judgeSeq(envelope.seq, state, this.platform.config.seqWindow, this.#holes.has(holeKey));
    }
    if (verdict === SeqVerdict.Duplicate) return false;
    if (verdict === SeqVerdict.TooFar) {
      item.refused = new UplinkRejected(
        'seq-window',
        `seq ${envelope.seq} of gateway '${envelope.gw}' is more than ${this.platform.config.seqWindow} ahead of its stream`,
      );
      this.platform.uplinkRejected(envelope.gw, 'seq-window', {
        kind: envelope.k,
        seq: envelope.seq,
        applied: state.applied,
        birth: state.birth,
      });
      return false;
    }
    this.#holes.delete(holeKey);
    if (state.applied === null || envelope.seq > state.applied)
      this.#setStream(key, { ...state, applied: envelope.seq });
    return true;
  }

  /**
   * Registers the gateway on its first uplink, per `platform.unknownGateways`; false (and
   * `item.refused` set) when its uplink is refused: the gateway is pending or unknown ones are refused.
   */
  async #gateway(item: Pending, now: number, touch = true): Promise<boolean> {
    const { platform } = this;
    const gatewayId = item.envelope.gw;
    if (!this.#gateways.has(gatewayId) || this.#pending.has(gatewayId)) {
      const record = await platform.store.getGateway(gatewayId);
      const pending = record?.lifecycle === Lifecycle.Pending;
      if (record && !pending) {
        this.#pending.delete(gatewayId);
      } else if (pending || platform.config.unknownGateways !== UnknownGateways.Register) {
        const policy = pending ? UnknownGateways.Pending : platform.config.unknownGateways;
        if (!record && policy === UnknownGateways.Pending) {
          if (await platform.store.ensureGateway(gatewayId, now)) {
            await platform.store.updateGatewayAsset(gatewayId, { lifecycle: Lifecycle.Pending }, now);
            await platform.recordEvent('pending', 'gateway', gatewayId, now, { kind: item.envelope.k });
          }
        }
        if (policy === UnknownGateways.Pending) {
          this.#gateways.add(gatewayId);
          this.#pending.add(gatewayId);
        }
        item.refused = new UplinkRejected(
          policy === UnknownGateways.Pending ? 'gateway-pending' : 'gateway-unknown',
          policy === UnknownGateways.Pending
            ? `gateway '${gatewayId}' is pending: an operator must activate it`
            : `gateway '${gatewayId}' is not registered`,
        );
        platform.uplinkRejected(gatewayId, item.refused.reason, { kind: item.envelope.k });
        return false;
      } else if (await platform.store.ensureGateway(gatewayId, now)) {
        await platform.recordEvent('registered', 'gateway', gatewayId, now);
      }
      // only once stored: a failed write is tried again with the message's retry or resend
      this.#gateways.add(gatewayId);
      platform.heartbeat.addGateway(gatewayId, now);
    }
    if (touch) await platform.store.touchGateway(gatewayId, now);
    return true;
  }

  /** An operator changed the gateway's lifecycle (e.g. activated a pending one). */
  gatewayUpdated(gatewayId: string, lifecycle: string): void {
    this.#gateways.add(gatewayId);
    if (lifecycle === Lifecycle.Pending) this.#pending.add(gatewayId);
    else this.#pending.delete(gatewayId);
  }

  async #one(item: Pending): Promise<void> {
    const { envelope, receivedAt } = item;
    if (!(await this.#gateway(item, receivedAt))) return;
    if (envelope.k !== 'will' && envelope.k !== 'birth') {
      await this.platform.applyOnlineChanges(this.platform.online.uplink(envelope.gw, receivedAt));
    }
    if (!(await this.#admit(item))) return;
    switch (envelope.k) {
      case 'birth':
        return this.#birth(envelope, receivedAt, item.trusted);
      case 'will':
        return this.#will(envelope, receivedAt);
      case 'cmd-result':
        await this.#cmdResult(envelope, receivedAt);
        return this.platform.store.saveStreamMark(this.#mark(envelope.gw));
      case 'status':
        await this.#status(envelope, receivedAt);
        return this.platform.store.saveStreamMark(this.#mark(envelope.gw));
      case 'report':
        return this.#report(envelope, receivedAt);
      case 'catalog':
        return this.platform.catalogs.received(envelope, receivedAt);
    }
  }

  async #birth(birth: BirthEnvelope, now: number, trusted: boolean): Promise<void> {
    const { platform } = this;
    if (this.#epochs.get(birth.gw) !== birth.epoch) {
      this.#epochs.set(birth.gw, birth.epoch);
      await platform.store.setSetting(epochKey(birth.gw), birth.epoch);
      await this.#loadStream(birth.gw);
    }
    // The birth's seq is the gateway's counter now: what it still has queued lies below it, so a
    // trusted birth lets the stream resume after a long outage (seq-window.ts).
    const key = this.#key(birth.gw);
    const state = this.#stream(key);
    if (state.birth === null || birth.seq > state.birth) {
      if (acceptsBirthAnchor(birth.seq, state, platform.config.seqWindow, trusted)) {
        this.#setStream(key, { ...state, birth: birth.seq });
        await platform.store.saveStreamMark(this.#mark(birth.gw));
      } else {
        platform.uplinkRejected(birth.gw, 'birth-seq-window', { seq: birth.seq, applied: state.applied });
      }
    }
    for (const d of birth.devices) {
      const contract = platform.contracts.get(d.c) ? d.c : null;
      await this.#registerDevice(d.dev, birth.gw, contract, now, IdentifiedBy.Declared, d.pollMs, d.model);
      await platform.deviceModels.declare(d.dev, d.model, now);
      platform.online.describeDevice(d.dev, birth.gw, d.pollMs ?? null);
    }
    await platform.catalogs.birth(birth.gw, birth.catalog, now);
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

  /**
   * A group the gateway marks as possibly delivered before (`re`): applied unless the store has it. The
   * mark cannot tell, since another instance may have taken the first copy.
   */
  async #storedBefore(group: DataEnvelope, applied: ReadonlySet<string>): Promise<boolean> {
    if (applied.has(`${group.gw}\u0000${group.seq}`)) return true;
    if (group.re !== true) return false;
    return this.platform.store.dataGroupStored(group.gw, this.#epoch(group.gw), group.seq);
  }

  /**
   * A group at or below the mark: a resend, as a rule. But with several instances on a shared
   * subscription the mark rises with groups other instances never saw, and an instance that died took
   * its share unstored: the gateway resends those (no data-ack came), and the store decides.
   */
  async #lostBelowMark(group: DataEnvelope, applied: ReadonlySet<string>): Promise<boolean> {
    if (applied.has(`${group.gw}\u0000${group.seq}`)) return false;
    if (group.ack !== true && group.re !== true) return false;
    return !(await this.platform.store.dataGroupStored(group.gw, this.#epoch(group.gw), group.seq));
  }

  /**
   * `data-ack` to each gateway for the groups of this run that asked (stored now or before). It expires
   * after a minute: a gateway that was away resends what it still holds, and stale acks would only pile up.
   */
  #sendDataAcks(acks: ReadonlyMap<string, number[]>, at: ReadonlyMap<string, number>): void {
    for (const [gw, seqs] of acks)
      this.platform.publishDown(
        gw,
        { v: 1, k: 'data-ack', gw, ts: at.get(gw) ?? 0, acks: seqs },
        DATA_ACK_EXPIRY_S,
      );
  }

  /** A run of data groups, prepared and stored at once (the retry path of #dataRun). */
  async #data(items: Pending[]): Promise<void> {
    await this.#commitData(await this.#prepareData(items));
  }

  /** Decodes every frame of a run of data groups and registers new devices: all but storing them. */
  async #prepareData(items: Pending[]): Promise<PreparedData> {
    const { platform } = this;
    const decoded: DecodedFrame[] = [];
    const seenDevices = new Map<string, { gatewayId: string; at: number }>();
    // Last communication is written once per gateway for the whole run, not once per data group.
    const seenGateways = new Map<string, number>();
    // gateway → seqs of the groups that asked for a data-ack: sent once the run is committed
    const acks = new Map<string, number[]>();
    // `${gw}\0${seq}` applied in this run: a resend in the same run is not decoded twice
    const applied = new Set<string>();
    let duplicates = 0;
    for (const item of items) {
      const { envelope, receivedAt } = item;
      const group = envelope as DataEnvelope;
      if (!(await this.#gateway(item, receivedAt, false))) continue;
      seenGateways.set(group.gw, Math.max(receivedAt, seenGateways.get(group.gw) ?? 0));
      await platform.applyOnlineChanges(platform.online.uplink(group.gw, receivedAt));
      const admitted = await this.#admit(item);
      if (item.refused !== undefined) continue;
      if (group.ack === true) acks.set(group.gw, [...(acks.get(group.gw) ?? []), group.seq]);
      if (
        !(admitted ? !(await this.#storedBefore(group, applied)) : await this.#lostBelowMark(group, applied))
      ) {
        duplicates += group.frames.length;
        continue;
      }
      applied.add(`${group.gw}\u0000${group.seq}`);
      const frames = decodeDataGroup(
        { gw: group.gw, seq: group.seq, frames: group.frames, bytes: item.bytes },
        this.#epoch(group.gw),
        receivedAt,
        platform.contracts,
        (id) => this.#devices.get(id),
        (c) => platform.catalogs.awaited(group.gw, c),
      );
      // indexed: a for-of that can await allocates an iterator result per frame
      for (let i = 0; i < frames.length; i++) {
        const frame = frames[i]!;
        const { deviceId, contractId } = frame.reading;
        const known = this.#devices.get(deviceId);
        if (
          known === undefined ||
          (known === null && contractId && frame.identifiedBy !== IdentifiedBy.Unknown)
        ) {
          const identified = frame.identifiedBy === IdentifiedBy.Unknown ? null : contractId;
          await this.#registerDevice(deviceId, group.gw, identified, receivedAt, frame.identifiedBy);
        }
        const seen = seenDevices.get(deviceId);
        if (seen === undefined) seenDevices.set(deviceId, { gatewayId: group.gw, at: receivedAt });
        else if (seen.gatewayId !== group.gw || seen.at !== receivedAt) {
          seen.gatewayId = group.gw;
          seen.at = receivedAt;
        }
        decoded.push(frame);
      }
    }
    await platform.deviceModels.annotate(decoded);
    // the marks go into the readings' transaction: a restart neither forgets them nor re-stores
    const withReadings = new Set<string>();
    for (let i = 0; i < decoded.length; i++) withReadings.add(decoded[i]!.reading.gatewayId);
    const marks = [...withReadings].map((gw) => this.#mark(gw));
    return { items, decoded, seenDevices, seenGateways, acks, duplicates, marks };
  }

  /**
   * A prepared run's frames are readings now: the envelopes' frame objects are let go before the
   * commit, which every young-generation collection on the way would otherwise copy; their count is
   * kept. Only for a run that is not prepared again (#dataRun retries its commit alone).
   */
  #letFramesGo(items: Pending[]): void {
    for (const item of items) {
      if (item.envelope.k !== 'data') continue;
      item.frameCount = item.envelope.frames.length;
      item.envelope = { ...item.envelope, frames: [] };
    }
  }

  /** Stores a prepared run in one transaction, then acknowledges, publishes and counts it. */
  async #commitData(run: PreparedData): Promise<void> {
    const { platform } = this;
    const { decoded, seenDevices, seenGateways, acks, duplicates, marks } = run;
    if (decoded.length === 0) {
      for (const [gatewayId, at] of seenGateways) await platform.store.touchGateway(gatewayId, at);
      this.#sendDataAcks(acks, seenGateways);
      return platform.metrics.stored([], undefined, duplicates);
    }
    const commitStarted = performance.now();
    // the groups this insert created: another instance may have stored one of them at the same moment
    // (a slow first copy and its resend on two instances); only the one whose insert created it publishes
    const created = new Set<string>();
    await platform.store.insertReadings(
      decoded.map((d) => d.reading),
      marks,
      (g) => created.add(`${g.gatewayId}\u0000${g.epoch}\u0000${g.groupSeq}`),
    );
    const commitSeconds = (performance.now() - commitStarted) / 1000;
    this.#sendDataAcks(acks, seenGateways); // committed: the gateways may forget these groups
    // Last communication, once per gateway and device for the whole run, in short transactions of
    // their own: inside the readings' transaction, two instances on one PostgreSQL would hold these
    // rows' locks for the whole batch.
    for (const [gatewayId, at] of seenGateways) await platform.store.touchGateway(gatewayId, at);
    const byTime = new Map<number, string[]>();
    for (const [deviceId, { at }] of seenDevices) {
      const ids = byTime.get(at);
      if (ids) ids.push(deviceId);
      else byTime.set(at, [deviceId]);
    }
    for (const [at, ids] of byTime) await platform.store.touchDevices(ids, at);
    for (const [deviceId, { gatewayId, at }] of seenDevices) {
      await platform.applyOnlineChanges(platform.online.reading(deviceId, gatewayId, at));
    }
    // a group's readings lie side by side: its key is built once, not per reading
    const stored: DecodedFrame[] = [];
    let group: ReadingInput | undefined;
    let isNew = false;
    for (let i = 0; i < decoded.length; i++) {
      const r = decoded[i]!.reading;
      if (
        !group ||
        r.groupSeq !== group.groupSeq ||
        r.gatewayId !== group.gatewayId ||
        r.epoch !== group.epoch
      ) {
        group = r;
        isNew = created.has(`${r.gatewayId}\u0000${r.epoch ?? ''}\u0000${r.groupSeq}`);
      }
      if (isNew) stored.push(decoded[i]!);
    }
    // The JSON of a reading is built only when someone subscribes to its device's topic: with nobody
    // listening it was the largest single cost per reading after the store.
    const wanted = new Map<string, boolean>();
    for (let i = 0; i < stored.length; i++) {
      const message = telemetryMessage(stored[i]!);
      let want = wanted.get(message.dev);
      if (want === undefined) wanted.set(message.dev, (want = platform.telemetryWanted(message.dev)));
      if (want) platform.publishTelemetry(message.dev, Buffer.from(JSON.stringify(message)));
      platform.notify({ type: 'telemetry', message });
    }
    platform.metrics.stored(stored, commitSeconds, duplicates + decoded.length - stored.length);
  }
}

/** A run of data groups decoded and checked, waiting for its turn to be stored (see #dataRun). */
interface PreparedData {
  items: Pending[];
  decoded: DecodedFrame[];
  /** device → the gateway it was last heard through, and when */
  seenDevices: Map<string, { gatewayId: string; at: number }>;
  seenGateways: Map<string, number>;
  /** gateway → seqs of the groups that asked for a data-ack */
  acks: Map<string, number[]>;
  /** frames of groups already stored */
  duplicates: number;
  marks: StreamMark[];
}

function maxOf(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}
