// The catalog entry a gateway's birth carries for each contract and model it uses (docs/protocol.md,
// "Catalog"): id, version and a hash of the document's text, so both sides can tell they hold the same.
import { createHash } from 'node:crypto';

export type CatalogKind = 'contract' | 'model';

export interface CatalogEntry {
  kind: CatalogKind;
  id: string;
  version: string;
  /** `sha256:` and the hex digest of the text with its line endings made LF. */
  hash: string;
}

export function catalogHash(source: string): string {
  return `sha256:${createHash('sha256').update(source.replace(/\r\n?/g, '\n')).digest('hex')}`;
}
