/** One subscription of one session, as kept in the topic tree. */
import type { SubscriptionRecord } from './store/types.ts';
import type { TreeEntry } from './topic-tree.ts';
import type { QoS } from './types.ts';

/**
 * `Owner` is the session holding the subscription; generic so that this file need not know the
 * session (the session holds its subscriptions, so the two would import each other).
 */
export class Subscription<
  Owner extends { readonly clientId: string } = { readonly clientId: string },
> implements TreeEntry<Owner> {
  constructor(
    readonly owner: Owner,
    /** As subscribed, including `$share/{group}/`. */
    readonly filter: string,
    /** The topic filter without the share prefix. */
    readonly topicFilter: string,
    readonly group: string | undefined,
    readonly qos: QoS,
    readonly noLocal: boolean,
    readonly retainAsPublished: boolean,
    readonly retainHandling: 0 | 1 | 2,
    readonly subscriptionId: number | undefined,
  ) {}

  /** The tree's key: the owner's client id (read from it, not kept twice). */
  get key(): string {
    return this.owner.clientId;
  }

  toRecord(): SubscriptionRecord {
    return {
      filter: this.filter,
      qos: this.qos,
      noLocal: this.noLocal,
      retainAsPublished: this.retainAsPublished,
      retainHandling: this.retainHandling,
      subscriptionId: this.subscriptionId,
    };
  }
}
