// The gateway's catalog: every contract and device model its devices use, with the text of each, so
// the birth can name them by id, version and hash and a `catalog-request` can be answered with the
// documents themselves (docs/protocol.md, "Catalog"). Built once at start, from the same files the
// devices were set up with.
import { readFileSync } from 'node:fs';
import { builtinContractSource, type Contract } from '../contracts/index.ts';
import { builtinModelSource, catalogHash, listBuiltinModels, loadModel } from '../contracts/models/index.ts';
import type { CatalogItem } from '../protocol/envelope.ts';
import { GatewayConfigError, type GatewayConfig } from './config.ts';

const FILE = /\.(ya?ml|json)$/i;

export interface GatewayCatalog {
  items: CatalogItem[];
  /** `${kind}:${id}` → the document's text. */
  sources: Map<string, string>;
  /** Device id → the model id its birth declares (a model file's `id`, or the configured text). */
  modelOf: Map<string, string>;
}

export function buildCatalog(
  config: GatewayConfig,
  contracts: ReadonlyMap<string, Contract>,
): GatewayCatalog {
  const items = new Map<string, CatalogItem>();
  const sources = new Map<string, string>();
  const modelOf = new Map<string, string>();
  const add = (kind: CatalogItem['kind'], id: string, version: string, source: string) => {
    const key = `${kind}:${id}`;
    if (items.has(key)) return;
    items.set(key, { kind, id, version, hash: catalogHash(source) });
    sources.set(key, source);
  };
  config.devices.forEach((dc, i) => {
    const contract = contracts.get(dc.id);
    if (contract) {
      const source = contractText(dc.contract);
      if (source !== undefined) add('contract', contract.id, contract.version, source);
    }
    const ref = dc.model;
    if (ref === undefined) return;
    if (FILE.test(ref)) {
      let model;
      let text: string;
      try {
        text = readFileSync(ref, 'utf8');
        model = loadModel(text);
      } catch (err) {
        throw new GatewayConfigError(`devices[${i}].model`, (err as Error).message, 'config', { cause: err });
      }
      add('model', model.id, model.version, text);
      modelOf.set(dc.id, model.id);
    } else {
      modelOf.set(dc.id, ref);
      if (listBuiltinModels().includes(ref))
        add('model', ref, loadModel(builtinModelSource(ref)).version, builtinModelSource(ref));
    }
  });
  return { items: [...items.values()], sources, modelOf };
}

/** A contract's text: the file named in the configuration, or the built-in's; undefined when neither is at hand. */
function contractText(ref: string): string | undefined {
  try {
    return FILE.test(ref) ? readFileSync(ref, 'utf8') : builtinContractSource(ref);
  } catch {
    return undefined;
  }
}
