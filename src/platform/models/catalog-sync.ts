// Keeps a gateway and the platform from disagreeing silently about the contracts and models they use.
// The birth names each document by id, version and hash; the platform compares them with its own,
// asks for the ones it lacks or holds in another version (`catalog-request`), installs a missing one
// from the gateway's `catalog` answer (checked and its tests run, like an upload) and records every
// difference it cannot settle. Until a missing contract arrives, that contract's frames are kept
// undecoded rather than guessed at by detection.
import { builtinContractSource } from '../../contracts/index.ts';
import { catalogHash } from '../../contracts/models/index.ts';
import type {
  CatalogEnvelope,
  CatalogItem,
  CatalogRequestEnvelope,
  DownlinkEnvelope,
} from '../../protocol/envelope.ts';
import type { ContractRegistry } from '../contract-registry.ts';
import type { PlatformStore } from '../store/types.ts';
import type { ModelRegistry } from './model-registry.ts';

/** Where one document of a gateway's catalog stands with the platform. */
export const CatalogState = {
  /** Same id, same hash. */
  Same: 'same',
  /** The platform has none of that id: asked for. */
  Missing: 'missing',
  /** The platform holds another text under that id: asked for, then recorded as a conflict. */
  Differs: 'differs',
  /** Installed from the gateway's copy. */
  Installed: 'installed',
  /** The gateway's copy was refused (invalid, tests failing, a built-in's id) or its hash did not match. */
  Rejected: 'rejected',
  /** Both sides keep different texts under one id: an operator must choose (upload one to the platform). */
  Conflict: 'conflict',
} as const;
export type CatalogState = (typeof CatalogState)[keyof typeof CatalogState];

export interface CatalogStatus extends CatalogItem {
  state: CatalogState;
  /** The platform's hash for that id, when it has one. */
  platformHash: string | null;
  detail?: string;
}

export interface CatalogSyncDeps {
  store: PlatformStore;
  contracts: ContractRegistry;
  models: ModelRegistry;
  publishDown(gatewayId: string, envelope: DownlinkEnvelope): void;
  recordEvent(kind: string, gatewayId: string, ts: number, detail: Record<string, unknown>): Promise<void>;
  /** A model was installed from a gateway's copy. */
  modelAdded(modelId: string, now: number): Promise<void>;
}

export class CatalogSync {
  readonly #status = new Map<string, Map<string, CatalogStatus>>();

  constructor(private readonly deps: CatalogSyncDeps) {}

  /** The catalog of a gateway's latest birth, each document with where it stands. */
  status(gatewayId: string): CatalogStatus[] {
    return [...(this.#status.get(gatewayId)?.values() ?? [])];
  }

  /** A contract id the gateway uses and the platform is still waiting for: its frames are not guessed at. */
  awaited(gatewayId: string, contractId: string): boolean {
    const state = this.#status.get(gatewayId)?.get(`contract:${contractId}`)?.state;
    return state === CatalogState.Missing || state === CatalogState.Rejected;
  }

  /** A birth arrived: compare its catalog, ask for what differs. */
  async birth(gatewayId: string, catalog: readonly CatalogItem[] | undefined, now: number): Promise<void> {
    if (catalog === undefined) return; // an older gateway: nothing to compare
    const statuses = new Map<string, CatalogStatus>();
    const wanted: CatalogRequestEnvelope['items'] = [];
    for (const item of catalog) {
      const platformHash = await this.#hashOf(item.kind, item.id);
      const state =
        platformHash === null
          ? CatalogState.Missing
          : platformHash === item.hash
            ? CatalogState.Same
            : CatalogState.Differs;
      statuses.set(`${item.kind}:${item.id}`, { ...item, state, platformHash });
      if (state !== CatalogState.Same) wanted.push({ kind: item.kind, id: item.id });
    }
    this.#status.set(gatewayId, statuses);
    if (wanted.length === 0) return;
    await this.deps.recordEvent('catalog-mismatch', gatewayId, now, {
      items: [...statuses.values()].filter((s) => s.state !== CatalogState.Same).map(brief),
    });
    this.deps.publishDown(gatewayId, { v: 1, k: 'catalog-request', gw: gatewayId, ts: now, items: wanted });
  }

  /** The gateway sent the documents asked for. */
  async received(envelope: CatalogEnvelope, now: number): Promise<void> {
    const gatewayId = envelope.gw;
    const statuses = this.#status.get(gatewayId) ?? new Map<string, CatalogStatus>();
    for (const item of envelope.items) {
      const key = `${item.kind}:${item.id}`;
      const asked = statuses.get(key);
      if (!asked) {
        // only what the platform asked for is taken: a gateway cannot push documents of its own accord
        await this.deps.recordEvent('catalog-rejected', gatewayId, now, {
          kind: item.kind,
          id: item.id,
          detail: 'not asked for',
        });
        continue;
      }
      if (asked.state !== CatalogState.Missing && asked.state !== CatalogState.Differs) continue; // a resend
      const { source, ...entry } = item;
      const platformHash = await this.#hashOf(item.kind, item.id);
      const set = (state: CatalogState, detail?: string) =>
        statuses.set(key, { ...entry, state, platformHash, ...(detail ? { detail } : {}) });
      if (catalogHash(source) !== item.hash) {
        set(CatalogState.Rejected, 'the text does not match its hash');
      } else if (platformHash === item.hash) {
        set(CatalogState.Same);
      } else if (platformHash !== null) {
        // The operator's copy stays: frames are decoded with it, and the difference is on record.
        set(CatalogState.Conflict, 'the platform holds another text under this id; upload the one to use');
      } else {
        try {
          if (item.kind === 'contract') await this.deps.contracts.upload(source, now);
          else {
            await this.deps.models.upload(source, now);
            await this.deps.modelAdded(item.id, now);
          }
          set(CatalogState.Installed);
        } catch (err) {
          set(CatalogState.Rejected, (err as Error).message);
        }
      }
      const status = statuses.get(key)!;
      if (status.state !== CatalogState.Same)
        await this.deps.recordEvent(`catalog-${status.state}`, gatewayId, now, brief(status));
    }
    for (const ref of envelope.missing ?? []) {
      const status = statuses.get(`${ref.kind}:${ref.id}`);
      if (status && status.state === CatalogState.Missing) {
        statuses.set(`${ref.kind}:${ref.id}`, {
          ...status,
          state: CatalogState.Rejected,
          detail: 'the gateway could not send it',
        });
        await this.deps.recordEvent(
          'catalog-rejected',
          gatewayId,
          now,
          brief(statuses.get(`${ref.kind}:${ref.id}`)!),
        );
      }
    }
  }

  /** The platform's hash of a document, or null when it has none of that id. */
  async #hashOf(kind: CatalogItem['kind'], id: string): Promise<string | null> {
    if (kind === 'model') return this.deps.models.info(id)?.hash ?? null;
    const known = this.deps.contracts.list().find((c) => c.id === id);
    if (!known) return null;
    if (known.builtin) {
      try {
        return catalogHash(builtinContractSource(id));
      } catch {
        return null;
      }
    }
    const versions = await this.deps.store.listContractVersions(id);
    const latest = versions[versions.length - 1];
    return latest ? catalogHash(latest.source) : null;
  }
}

function brief(s: CatalogStatus): Record<string, unknown> {
  return {
    kind: s.kind,
    id: s.id,
    version: s.version,
    state: s.state,
    hash: s.hash,
    platformHash: s.platformHash,
    ...(s.detail ? { detail: s.detail } : {}),
  };
}
