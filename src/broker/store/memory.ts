/**
 * In-memory SessionStore/RetainedStore. Synchronous, so the broker never awaits on the fast path.
 * Survives a Broker instance (pass the same store to a new Broker) but not the process.
 */
import type { Message } from '../types.ts';
import type {
  OutgoingRecord,
  RetainedStore,
  SessionRecord,
  SessionStore,
  SubscriptionRecord,
} from './types.ts';

interface Entry {
  header: Omit<SessionRecord, 'subscriptions'>;
  subscriptions: Map<string, SubscriptionRecord>;
  outgoing: Map<number, OutgoingRecord>;
  incoming: Set<number>;
}

export class MemoryRetainedStore implements RetainedStore {
  private readonly messages = new Map<string, Message>();
  set(message: Message): void {
    this.messages.set(message.topic, message);
  }
  delete(topic: string): void {
    this.messages.delete(topic);
  }
  load(): Message[] {
    return [...this.messages.values()];
  }
}

export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, Entry>();
  readonly retained = new MemoryRetainedStore();

  loadSessions(): SessionRecord[] {
    return [...this.sessions.values()].map((e) => ({
      ...e.header,
      subscriptions: [...e.subscriptions.values()].map((s) => ({ ...s })),
    }));
  }
  saveSession(rec: Omit<SessionRecord, 'subscriptions'>): void {
    const e = this.sessions.get(rec.clientId);
    if (e !== undefined) e.header = { ...rec };
    else {
      this.sessions.set(rec.clientId, {
        header: { ...rec },
        subscriptions: new Map(),
        outgoing: new Map(),
        incoming: new Set(),
      });
    }
  }
  deleteSession(clientId: string): void {
    this.sessions.delete(clientId);
  }
  saveSubscription(clientId: string, sub: SubscriptionRecord): void {
    this.sessions.get(clientId)?.subscriptions.set(sub.filter, { ...sub });
  }
  deleteSubscription(clientId: string, filter: string): void {
    this.sessions.get(clientId)?.subscriptions.delete(filter);
  }
  saveOutgoing(clientId: string, rec: OutgoingRecord): void {
    // records are shared with the live session (state/packetId change in place); copy on load
    this.sessions.get(clientId)?.outgoing.set(rec.seq, rec);
  }
  deleteOutgoing(clientId: string, seq: number): void {
    this.sessions.get(clientId)?.outgoing.delete(seq);
  }
  loadOutgoing(clientId: string): OutgoingRecord[] {
    const e = this.sessions.get(clientId);
    if (e === undefined) return [];
    return [...e.outgoing.values()].sort((a, b) => a.seq - b.seq).map((r) => ({ ...r }));
  }
  saveIncomingQoS2(clientId: string, packetId: number): void {
    this.sessions.get(clientId)?.incoming.add(packetId);
  }
  deleteIncomingQoS2(clientId: string, packetId: number): void {
    this.sessions.get(clientId)?.incoming.delete(packetId);
  }
  loadIncomingQoS2(clientId: string): number[] {
    return [...(this.sessions.get(clientId)?.incoming ?? [])];
  }
  close(): void {}
}
