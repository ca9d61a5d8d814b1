/** One subscription of one session, as kept in the topic tree. */
import type { SubscriptionRecord } from './store/types.ts';
import type { TreeEntry } from './topic-tree.ts';
import type { QoS } from './types.ts';
import type { Session } from './session.ts';

export class Subscription implements TreeEntry<Session> {
  readonly key: string;
  constructor(
    readonly owner: Session,
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
  ) {
    this.key = owner.clientId;
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
