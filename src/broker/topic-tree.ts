/**
 * Subscription trie: one node per topic level, with `+` and `#` children (rumqttd/mosquitto style).
 * Matching walks at most (levels × 3) nodes, independent of how many subscriptions exist, so
 * 100,000 subscriptions cost memory, not time. Shared subscriptions hang off the node of their
 * filter, grouped by share name. The $-rule [MQTT-4.7.2-1] is applied at the root.
 */
export interface TreeEntry<S> {
  readonly owner: S;
  readonly key: string; // owner's unique id (client id)
}

class Node<E> {
  children: Map<string, Node<E>> | undefined;
  plus: Node<E> | undefined;
  hash: Node<E> | undefined;
  /** Normal subscriptions at this node, by owner key. */
  subs: Map<string, E> | undefined;
  /** Shared subscriptions at this node by share name. */
  shared: Map<string, SharedGroup<E>> | undefined;

  isEmpty(): boolean {
    return (
      (this.children === undefined || this.children.size === 0) &&
      this.plus === undefined &&
      this.hash === undefined &&
      (this.subs === undefined || this.subs.size === 0) &&
      (this.shared === undefined || this.shared.size === 0)
    );
  }
}

/** `$share/{name}/{filter}`: the members, and a cursor for round-robin choice. */
export class SharedGroup<E> {
  readonly members = new Map<string, E>();
  cursor = 0;
  constructor(
    readonly name: string,
    readonly filter: string,
  ) {}
}

export interface MatchVisitor<E> {
  onSubscription(entry: E): void;
  onSharedGroup(group: SharedGroup<E>): void;
}

export class TopicTree<E extends TreeEntry<unknown>> {
  private readonly root = new Node<E>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds or replaces the entry of `entry.key` on `filter` (share group optional). Returns true if new. */
  add(filter: string, entry: E, group?: string): boolean {
    const node = this.walkCreate(filter);
    let map: Map<string, E>;
    if (group === undefined) {
      map = node.subs ??= new Map();
    } else {
      node.shared ??= new Map();
      let g = node.shared.get(group);
      if (g === undefined) {
        g = new SharedGroup<E>(group, filter);
        node.shared.set(group, g);
      }
      map = g.members;
    }
    const isNew = !map.has(entry.key);
    map.set(entry.key, entry);
    if (isNew) this.count++;
    return isNew;
  }

  remove(filter: string, key: string, group?: string): boolean {
    const levels = filter.split('/');
    const path: Node<E>[] = [this.root];
    let node: Node<E> | undefined = this.root;
    for (const level of levels) {
      node = child(node, level);
      if (node === undefined) return false;
      path.push(node);
    }
    let removed = false;
    if (group === undefined) {
      removed = node.subs?.delete(key) ?? false;
    } else {
      const g = node.shared?.get(group);
      if (g !== undefined) {
        removed = g.members.delete(key);
        if (g.members.size === 0) node.shared!.delete(group);
      }
    }
    if (removed) {
      this.count--;
      this.prune(path, levels);
    }
    return removed;
  }

  /** Calls the visitor for every subscription whose filter matches `topic`. */
  match(topic: string, visitor: MatchVisitor<E>): void {
    const levels = topic.split('/');
    // [MQTT-4.7.2-1] topics starting with $ are not matched by a leading wildcard
    const dollar = topic.charCodeAt(0) === 0x24;
    this.matchNode(this.root, levels, 0, visitor, dollar);
  }

  private matchNode(
    node: Node<E>,
    levels: string[],
    i: number,
    visitor: MatchVisitor<E>,
    dollar: boolean,
  ): void {
    // `#` matches the parent level too ("a/#" matches "a") [MQTT-4.7.1-2]
    if (node.hash !== undefined && !(dollar && i === 0)) {
      emit(node.hash, visitor);
    }
    if (i === levels.length) {
      emit(node, visitor);
      return;
    }
    const level = levels[i]!;
    const exact = node.children?.get(level);
    if (exact !== undefined) this.matchNode(exact, levels, i + 1, visitor, dollar);
    if (node.plus !== undefined && !(dollar && i === 0)) {
      this.matchNode(node.plus, levels, i + 1, visitor, dollar);
    }
  }

  private walkCreate(filter: string): Node<E> {
    let node = this.root;
    for (const level of filter.split('/')) {
      if (level === '+') node = node.plus ??= new Node();
      else if (level === '#') node = node.hash ??= new Node();
      else {
        node.children ??= new Map();
        let next = node.children.get(level);
        if (next === undefined) {
          next = new Node();
          node.children.set(level, next);
        }
        node = next;
      }
    }
    return node;
  }

  private prune(path: Node<E>[], levels: string[]): void {
    for (let i = path.length - 1; i > 0; i--) {
      const node = path[i]!;
      if (!node.isEmpty()) return;
      const parent = path[i - 1]!;
      const level = levels[i - 1]!;
      if (level === '+') parent.plus = undefined;
      else if (level === '#') parent.hash = undefined;
      else parent.children?.delete(level);
    }
  }
}

function child<E>(node: Node<E>, level: string): Node<E> | undefined {
  if (level === '+') return node.plus;
  if (level === '#') return node.hash;
  return node.children?.get(level);
}

function emit<E>(node: Node<E>, visitor: MatchVisitor<E>): void {
  if (node.subs !== undefined) for (const e of node.subs.values()) visitor.onSubscription(e);
  if (node.shared !== undefined) for (const g of node.shared.values()) visitor.onSharedGroup(g);
}
