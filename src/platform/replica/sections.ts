// The edge replica's sections and their versions, pure. The cloud cuts what an edge needs into four
// sections — its devices, their contracts, the rules that concern them, their last known state — and
// versions each one by a digest of its content. The edge says which versions it holds; only the sections
// whose version differs travel, and the edge stores each with its version. A digest (not a time or a
// counter) needs nothing kept per edge at the cloud, holds across several cloud instances, and a section
// that changes and changes back is not resent.
import { createHash } from 'node:crypto';

export const REPLICA_KINDS = ['devices', 'contracts', 'rules', 'state'] as const;
export type ReplicaKind = (typeof REPLICA_KINDS)[number];

export interface ReplicaSection {
  version: string;
  items: unknown[];
}

export type ReplicaSections = Partial<Record<ReplicaKind, ReplicaSection>>;

/** 16 hex digits of SHA-256 over the items as JSON (callers give items in a stable order). */
export function sectionVersion(items: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(items)).digest('hex').slice(0, 16);
}

export function section(items: unknown[]): ReplicaSection {
  return { version: sectionVersion(items), items };
}

/** `devices:ab12…,rules:…` ⇄ { devices: 'ab12…', … }; unknown kinds and malformed parts are ignored. */
export function parseHave(text: string | undefined): Partial<Record<ReplicaKind, string>> {
  const have: Partial<Record<ReplicaKind, string>> = {};
  for (const part of (text ?? '').split(',')) {
    const [kind, version] = part.split(':');
    if (version && (REPLICA_KINDS as readonly string[]).includes(kind!)) have[kind as ReplicaKind] = version;
  }
  return have;
}

export function formatHave(have: Partial<Record<ReplicaKind, string>>): string {
  return REPLICA_KINDS.filter((k) => have[k])
    .map((k) => `${k}:${have[k]}`)
    .join(',');
}

/** The sections whose version differs from what the edge holds (the delta to send). */
export function changedSections(
  all: Record<ReplicaKind, ReplicaSection>,
  have: Partial<Record<ReplicaKind, string>>,
): ReplicaSections {
  const out: ReplicaSections = {};
  for (const kind of REPLICA_KINDS) if (all[kind].version !== have[kind]) out[kind] = all[kind];
  return out;
}
