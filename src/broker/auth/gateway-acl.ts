/**
 * The built-in gateway rule (`broker.auth.gatewayAcl`), no ACL file needed: a client whose username
 * is `gw-<id>` is gateway `<id>` and may use its own two topics only ("two topics per gateway",
 * docs/protocol.md): publish to `mqiot/gw/<id>/up` (its will goes there too) and subscribe to
 * `mqiot/gw/<id>/down`. Everything else is refused to it. The username, not the client id, names
 * the gateway because only the username is checked against the password file.
 */
import { gatewayDownTopic, gatewayUpTopic, isValidTopicId } from '../../protocol/gateway-topics.ts';
import { gatewayIdOfUsername } from '../../protocol/gateway-username.ts';
import type { ClientInfo } from '../types.ts';

export { GATEWAY_USERNAME_PREFIX, gatewayIdOfUsername } from '../../protocol/gateway-username.ts';

/** The gateway's own topics, or null for a `gw-` username whose id cannot be a topic level. */
type GatewayTopics = { up: string; down: string } | null;

export class GatewayAcl {
  readonly #topics = new WeakMap<ClientInfo, GatewayTopics | undefined>();

  /** undefined when the client is not a gateway (other rules decide), else the decision. */
  canPublish(client: ClientInfo, topic: string): boolean | undefined {
    const t = this.#topicsOf(client);
    return t === undefined ? undefined : t !== null && topic === t.up;
  }

  /** Delivery: a gateway receives its own down topic only, whatever session it holds. */
  canRead(client: ClientInfo, topic: string): boolean | undefined {
    const t = this.#topicsOf(client);
    return t === undefined ? undefined : t !== null && topic === t.down;
  }

  canSubscribe(client: ClientInfo, filter: string): boolean | undefined {
    const t = this.#topicsOf(client);
    return t === undefined ? undefined : t !== null && filter === t.down;
  }

  #topicsOf(client: ClientInfo): GatewayTopics | undefined {
    if (this.#topics.has(client)) return this.#topics.get(client);
    const id = gatewayIdOfUsername(client.username);
    const topics =
      id === undefined
        ? undefined
        : isValidTopicId(id)
          ? { up: gatewayUpTopic(id), down: gatewayDownTopic(id) }
          : null;
    this.#topics.set(client, topics);
    return topics;
  }
}
