// `mqiot gateways`' work on the platform store: issue, rotate, revoke and list gateway credentials
// (hashed in Mosquitto's $7$ form), each change recorded as an event, and the Mosquitto files exported.
import { systemClock } from '../../platform/clock.ts';
import { GatewayCredentials, type IssuedCredentials } from '../../platform/gateways/credentials.ts';
import { aclFileText, passwordFileText } from '../../platform/gateways/export.ts';
import type { PlatformStore } from '../../platform/store/index.ts';
import { Lifecycle, type GatewayCredentialRow } from '../../platform/store/types.ts';
import { mosquittoHashing } from '../secret-hashing.ts';

export { checkGatewayId, type IssuedCredentials } from '../../platform/gateways/credentials.ts';
export { CREDENTIAL_SWEEP_MS } from '../all-in-one.ts';

export class GatewayCredentialAdmin {
  private readonly credentials: GatewayCredentials;

  constructor(private readonly store: PlatformStore) {
    this.credentials = new GatewayCredentials(store, { clock: systemClock, hashing: mosquittoHashing });
  }

  /** Registers the gateway and issues its first credentials (a PlatformError 'conflict' if it has some). */
  async add(id: string): Promise<IssuedCredentials> {
    const now = Date.now();
    const issued = await this.credentials.create(id);
    await this.store.ensureGateway(id, now);
    // issuing credentials is the operator's approval of a gateway that waited as pending
    const gw = await this.store.getGateway(id);
    if (gw?.lifecycle === Lifecycle.Pending)
      await this.store.updateGatewayAsset(id, { lifecycle: Lifecycle.Active }, now);
    await this.event(now, 'credentials-issued', id, { username: issued.username, by: 'cli' });
    return issued;
  }

  /** A new secret for a known gateway; undefined when the store has no such gateway. */
  async rotate(id: string): Promise<IssuedCredentials | undefined> {
    const now = Date.now();
    if (!(await this.store.getGateway(id))) return undefined;
    const issued = await this.credentials.rotate(id);
    await this.event(now, 'credentials-rotated', id, { username: issued.username, by: 'cli' });
    return issued;
  }

  /** False when the gateway had no credentials to revoke. */
  async revoke(id: string): Promise<boolean> {
    const now = Date.now();
    const { revoked } = await this.credentials.revoke(id);
    if (revoked) await this.event(now, 'credentials-revoked', id, { by: 'cli' });
    return revoked;
  }

  list(): Promise<GatewayCredentialRow[]> {
    return this.credentials.list();
  }

  /** The Mosquitto password file (other users' lines of `existing` kept) and ACL file for every gateway. */
  async exportFiles(
    existing: string,
    platformUser?: string,
  ): Promise<{ count: number; passwd: string; acl: string }> {
    const rows = await this.credentials.list();
    return {
      count: rows.length,
      passwd: passwordFileText(rows, existing),
      acl: aclFileText(rows, platformUser),
    };
  }

  private async event(ts: number, kind: string, id: string, detail: Record<string, unknown>): Promise<void> {
    await this.store.addEvent({ ts, kind, subjectType: 'gateway', subjectId: id, detail });
  }
}
