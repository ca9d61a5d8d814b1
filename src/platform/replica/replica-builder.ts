// The cloud side of the edge replica: what an edge serving some gateways needs to run their linkage and
// take local commands while the cloud is away — the gateways' devices (registry, without the fast-moving
// online fields), the uploaded contracts they use, the rules that watch them, and their last known state.
import type { ContractRegistry } from '../contract-registry.ts';
import { parseRule } from '../rules/rule.ts';
import type { PlatformStore } from '../store/types.ts';
import { section, type ReplicaKind, type ReplicaSection } from './sections.ts';

/** At most this many gateways per request (an edge serves one site). */
export const MAX_REPLICA_GATEWAYS = 1000;

export async function buildReplica(
  deps: { store: PlatformStore; contracts: ContractRegistry },
  gatewayIds: readonly string[],
): Promise<Record<ReplicaKind, ReplicaSection>> {
  const { store, contracts } = deps;
  const devices = [];
  for (const gatewayId of [...new Set(gatewayIds)].sort()) {
    for (let offset = 0; ;) {
      const page = await store.listDevices({ gatewayId, offset, limit: 500 });
      devices.push(...page.items);
      offset += page.items.length;
      if (page.items.length === 0 || offset >= page.total) break;
    }
  }
  devices.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const ids = new Set(devices.map((d) => d.id));

  const used = new Set(devices.map((d) => d.contractId).filter((c): c is string => c !== null));
  const builtin = new Set(
    contracts
      .list()
      .filter((c) => c.builtin)
      .map((c) => c.id),
  );
  const versions = await store.listContractVersions();
  // listed oldest first per id, so the last one seen is the one in use (as ContractRegistry.load does)
  const latest = new Map<string, { id: string; version: string; source: string }>();
  for (const v of versions)
    if (used.has(v.id) && !builtin.has(v.id))
      latest.set(v.id, { id: v.id, version: v.version, source: v.source });

  const rules = [];
  for (const row of await store.listRules()) {
    let rule;
    try {
      rule = parseRule(row.definition);
    } catch {
      continue; // not runnable here either
    }
    const { device, subject } = rule.when;
    const concerns =
      device === '*' || (subject === 'gateway' ? gatewayIds.includes(device) : ids.has(device));
    if (concerns) rules.push({ ...row.definition, id: row.id, updatedAt: row.updatedAt });
  }
  rules.sort((a, b) => (a.id < b.id ? -1 : 1));

  const state = [];
  for (const d of devices) {
    const points = (await store.latest(d.id)).map((p) => ({ name: p.name, value: p.value, ts: p.ts }));
    state.push({ id: d.id, online: d.online, lastSeen: d.lastSeen, points });
  }

  return {
    devices: section(devices.map(({ online: _o, lastSeen: _l, onlineChangedAt: _c, ...rest }) => rest)),
    contracts: section([...latest.values()].sort((a, b) => (a.id < b.id ? -1 : 1))),
    rules: section(rules),
    state: section(state),
  };
}
