// The edge's sync with the cloud platform's HTTP API (docs/architecture.md, "A site"):
// - up: the rule firings the edge acted on (while the cloud was away) are reported, oldest first, so
//   the cloud does not act on the same readings when the queued uplinks reach it; run before the
//   forward queue drains after an outage (CloudLink's `beforePump`) and at every sync;
// - down: the replica — the edge's devices, their uploaded contracts, the rules that concern them and
//   their last known state — is pulled section by section (only sections whose version changed), kept
//   on disk (ReplicaStore) and applied to the local platform. An edge started while the cloud is
//   unreachable applies what is on disk, and primes its rules with the last known state so that a
//   condition acted on before the restart is not acted on again.
import type { Logger } from 'pino';
import type { Platform } from '../../platform/platform.ts';
import {
  formatHave,
  REPLICA_KINDS,
  type ReplicaKind,
  type ReplicaSection,
} from '../../platform/replica/sections.ts';
import { RULE_FIRED_EVENT, type ReportedFiring } from '../../platform/rules/rules-engine.ts';
import type { RulesMirror } from '../../platform/rules/rules-mirror.ts';
import type { DeviceRecord, PointValue } from '../../platform/store/types.ts';
import type { ReplicaStore } from './replica-store.ts';

export const DEFAULT_EDGE_SYNC_MS = 60_000;
/** Setting: the newest own firing reported, `{ ts, id }` of its event. */
export const REPORTED_FIRINGS_SETTING = 'edge.firings.reported';
const REQUEST_TIMEOUT_MS = 10_000;
const FIRINGS_PER_REQUEST = 500;

export interface EdgeSyncOptions {
  cloudApiUrl: string;
  cloudApiToken?: string;
  edgeId: string;
  intervalMs?: number;
  logger?: Logger;
}

type ReplicaDevice = Omit<DeviceRecord, 'online' | 'lastSeen' | 'onlineChangedAt'>;
interface ReplicaState {
  id: string;
  points: { name: string; value: PointValue; ts: number }[];
}

export class EdgeSync {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** Firings reported upstream since start. */
  reported = 0;

  constructor(
    private readonly deps: { platform: Platform; mirror: RulesMirror; replica: ReplicaStore },
    private readonly options: EdgeSyncOptions,
  ) {}

  /** Applies the replica on disk, primes the rules, syncs once (failure only logged) and periodically. */
  async start(): Promise<void> {
    await this.deps.mirror.restore();
    for (const kind of ['contracts', 'devices'] as const) {
      const stored = this.deps.replica.get(kind);
      if (stored) await this.#apply(kind, stored.items);
    }
    await this.#prime();
    await this.sync().catch((err) => this.#warn(err));
    this.#timer = setInterval(
      () => void this.sync().catch((err) => this.#warn(err)),
      this.options.intervalMs ?? DEFAULT_EDGE_SYNC_MS,
    );
    this.#timer.unref?.();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  /** Reports firings, then pulls the replica. One at a time; a call meanwhile waits for the running one. */
  sync(): Promise<void> {
    this.#running ??= (async () => {
      await this.reportFirings();
      await this.pullReplica();
    })().finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** Sends the firings acted on here and not yet reported; returns how many were sent. */
  async reportFirings(): Promise<number> {
    const { store } = this.deps.platform;
    let sent = 0;
    for (;;) {
      const raw = await store.getSetting(REPORTED_FIRINGS_SETTING);
      const cursor = raw ? (JSON.parse(raw) as { ts: number; id: number }) : { ts: 0, id: 0 };
      // listed newest first, a page at a time: read back to the cursor, then send oldest first
      const since = [];
      for (let offset = 0; ;) {
        const page = await store.listEvents({
          subjectType: 'rule',
          kind: RULE_FIRED_EVENT,
          from: cursor.ts,
          offset,
          limit: 1000,
        });
        since.push(...page.filter((e) => e.id > cursor.id));
        offset += page.length;
        if (page.length < 1000) break;
      }
      const events = since.sort((a, b) => a.id - b.id).slice(0, FIRINGS_PER_REQUEST);
      if (events.length === 0) return sent;
      // Firings recorded here from someone else's report (`by`) and those without a key are not ours to send.
      const firings: ReportedFiring[] = events
        .filter((e) => typeof e.detail.key === 'string' && e.detail.by === undefined)
        .map((e) => ({
          key: e.detail.key as string,
          rule: e.subjectId,
          subject: String(e.detail.subject),
          point: String(e.detail.point),
          value: e.detail.value as PointValue,
          ts: Number(e.detail.ts),
          at: e.ts,
          ...(typeof e.detail.commandId === 'string' ? { commandId: e.detail.commandId } : {}),
          ...(Array.isArray(e.detail.actions) ? { actions: e.detail.actions as unknown[] } : {}),
        }));
      if (firings.length > 0) {
        await this.#request('POST', '/api/edge/firings', { edge: this.options.edgeId, firings });
        sent += firings.length;
        this.reported += firings.length;
      }
      const last = events.at(-1)!;
      await store.setSetting(REPORTED_FIRINGS_SETTING, JSON.stringify({ ts: last.ts, id: last.id }));
    }
  }

  /** Pulls the sections whose version changed, stores and applies them; returns the kinds received. */
  async pullReplica(): Promise<ReplicaKind[]> {
    const { store } = this.deps.platform;
    const gateways = (await store.listGateways()).map((g) => g.id);
    if (gateways.length === 0) return [];
    const query = new URLSearchParams({
      gateways: gateways.join(','),
      have: formatHave(this.deps.replica.versions()),
    });
    const answer = (await this.#request('GET', `/api/edge/replica?${query}`)) as {
      sections: Partial<Record<ReplicaKind, ReplicaSection>>;
    };
    const received: ReplicaKind[] = [];
    for (const kind of REPLICA_KINDS) {
      const section = answer.sections?.[kind];
      if (!section) continue;
      await this.#apply(kind, section.items);
      this.deps.replica.put(kind, section, this.deps.platform.clock.now());
      received.push(kind);
    }
    if (received.length)
      this.options.logger?.info(
        { sections: received, revision: this.deps.replica.revision },
        'replica updated',
      );
    return received;
  }

  async #apply(kind: ReplicaKind, items: readonly unknown[]): Promise<void> {
    if (kind === 'rules') await this.deps.mirror.apply(items as Record<string, unknown>[]);
    else if (kind === 'contracts')
      await this.#applyContracts(items as { id: string; version: string; source: string }[]);
    else if (kind === 'devices') await this.#applyDevices(items as ReplicaDevice[]);
    // state is kept on disk; it primes the rules at the next start
  }

  async #applyContracts(items: readonly { id: string; version: string; source: string }[]): Promise<void> {
    const { contracts, clock } = this.deps.platform;
    for (const c of items) {
      const here = contracts.list().find((x) => x.id === c.id);
      if (here && (here.builtin || here.version === c.version)) continue;
      try {
        await contracts.upload(c.source, clock.now());
      } catch (err) {
        this.options.logger?.warn(
          { err: (err as Error).message, contract: c.id },
          'cloud contract not accepted here; skipped',
        );
      }
    }
  }

  /**
   * Devices the edge has not seen yet are registered; the asset the cloud's operators keep (name,
   * lifecycle, tags…) is taken from the cloud; the gateway and the contract stay the edge's own when it
   * has them (its gateways are the first-hand source).
   */
  async #applyDevices(items: readonly ReplicaDevice[]): Promise<void> {
    const { store, clock } = this.deps.platform;
    for (const d of items) {
      const now = clock.now();
      await store.ensureDevice(
        { id: d.id, gatewayId: d.gatewayId, contractId: d.contractId, pollMs: d.pollMs, model: d.model },
        now,
      );
      const here = await store.getDevice(d.id);
      if (!here) continue;
      const patch: Record<string, unknown> = {};
      for (const field of [
        'name',
        'type',
        'model',
        'location',
        'tags',
        'installDate',
        'attributes',
        'lifecycle',
      ] as const)
        if (JSON.stringify(here[field]) !== JSON.stringify(d[field])) patch[field] = d[field];
      if (here.contractId === null && d.contractId !== null) patch.contractId = d.contractId;
      if (Object.keys(patch).length) await store.updateDeviceAsset(d.id, patch, now);
    }
  }

  /** Rules start from the newest of the edge's own latest values and the replica's last known state. */
  async #prime(): Promise<void> {
    const { store, rules } = this.deps.platform;
    const known = new Map<string, Map<string, { value: PointValue; ts: number }>>();
    for (const s of (this.deps.replica.get('state')?.items ?? []) as ReplicaState[])
      known.set(s.id, new Map(s.points.map((p) => [p.name, { value: p.value, ts: p.ts }])));
    const devices: DeviceRecord[] = [];
    for (let offset = 0; ;) {
      const page = await store.listDevices({ offset, limit: 1000 });
      devices.push(...page.items);
      offset += page.items.length;
      if (page.items.length === 0 || offset >= page.total) break;
    }
    for (const d of devices) {
      const points = known.get(d.id) ?? new Map<string, { value: PointValue; ts: number }>();
      for (const p of await store.latest(d.id))
        if ((points.get(p.name)?.ts ?? -Infinity) <= p.ts) points.set(p.name, { value: p.value, ts: p.ts });
      known.set(d.id, points);
    }
    for (const [id, points] of known)
      rules.prime(
        id,
        [...points].map(([name, p]) => ({ name, value: p.value })),
      );
  }

  async #request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const url = `${this.options.cloudApiUrl.replace(/\/+$/, '')}${path}`;
    const token = this.options.cloudApiToken;
    const res = await fetch(url, {
      method,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401 || res.status === 403)
      throw new Error(
        `${method} ${path}: HTTP ${res.status}: MQIOT_CLOUD_API_TOKEN must be a cloud API token (role operator)`,
      );
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
    return res.json();
  }

  #warn(err: unknown): void {
    this.options.logger?.warn(
      { err: (err as Error).message },
      'edge sync failed; keeping the replica on disk',
    );
  }
}
