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

/**
 * Most nodes of a device fleet's tree have one child (`site/<device>/cmd`) and one subscriber: those
 * are held in fields, and a Map is made only for the second (an empty Map costs ~200 bytes, more
 * than the node; docs/broker.md "Memory per connection").
 */
class Node<E extends { readonly key: string }> {
  /** The only child, while there is one (its level in onlyLevel); else undefined. */
  onlyLevel: string | undefined;
  onlyChild: Node<E> | undefined;
  /** Children by level, from the second on (then onlyChild is undefined). */
  children: Map<string, Node<E>> | undefined;
  plus: Node<E> | undefined;
  hash: Node<E> | undefined;
  /** The only normal subscription at this node, while there is one. */
  onlySub: E | undefined;
  /** Normal subscriptions at this node by owner key, from the second on (then onlySub is undefined). */
  subs: Map<string, E> | undefined;
  /** Shared subscriptions at this node by share name. */
  shared: Map<string, SharedGroup<E>> | undefined;

  child(level: string): Node<E> | undefined {
    if (this.onlyChild !== undefined) return this.onlyLevel === level ? this.onlyChild : undefined;
    return this.children?.get(level);
  }

  addChild(level: string, node: Node<E>): void {
    if (this.children !== undefined) this.children.set(level, node);
    else if (this.onlyChild === undefined) {
      this.onlyLevel = level;
      this.onlyChild = node;
    } else {
      this.children = new Map([[this.onlyLevel!, this.onlyChild]]);
      this.children.set(level, node);
      this.onlyLevel = undefined;
      this.onlyChild = undefined;
    }
  }

  deleteChild(level: string): void {
    if (this.onlyChild !== undefined) {
      if (this.onlyLevel === level) this.onlyLevel = this.onlyChild = undefined;
    } else if (this.children !== undefined) {
      this.children.delete(level);
      if (this.children.size === 0) this.children = undefined;
    }
  }

  /** Adds or replaces the subscription of entry.key; true if it is new. */
  addSub(entry: E): boolean {
    if (this.subs !== undefined) {
      const isNew = !this.subs.has(entry.key);
      this.subs.set(entry.key, entry);
      return isNew;
    }
    const one = this.onlySub;
    if (one === undefined || one.key === entry.key) {
      this.onlySub = entry;
      return one === undefined;
    }
    this.subs = new Map([[one.key, one]]);
    this.subs.set(entry.key, entry);
    this.onlySub = undefined;
    return true;
  }

  deleteSub(key: string): boolean {
    if (this.onlySub !== undefined) {
      if (this.onlySub.key !== key) return false;
      this.onlySub = undefined;
      return true;
    }
    if (this.subs === undefined || !this.subs.delete(key)) return false;
    if (this.subs.size === 0) this.subs = undefined;
    return true;
  }

  isEmpty(): boolean {
    return (
      this.onlyChild === undefined &&
      (this.children === undefined || this.children.size === 0) &&
      this.plus === undefined &&
      this.hash === undefined &&
      this.onlySub === undefined &&
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
    if (group === undefined) {
      const isNew = node.addSub(entry);
      if (isNew) this.count++;
      return isNew;
    }
    node.shared ??= new Map();
    let g = node.shared.get(group);
    if (g === undefined) {
      g = new SharedGroup<E>(group, filter);
      node.shared.set(group, g);
    }
    const isNew = !g.members.has(entry.key);
    g.members.set(entry.key, entry);
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
      removed = node.deleteSub(key);
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
    const exact = node.child(level);
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
        let next = node.child(level);
        if (next === undefined) {
          next = new Node();
          node.addChild(level, next);
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
      else parent.deleteChild(level);
    }
  }
}

function child<E extends TreeEntry<unknown>>(node: Node<E>, level: string): Node<E> | undefined {
  if (level === '+') return node.plus;
  if (level === '#') return node.hash;
  return node.child(level);
}

function emit<E extends TreeEntry<unknown>>(node: Node<E>, visitor: MatchVisitor<E>): void {
  if (node.onlySub !== undefined) visitor.onSubscription(node.onlySub);
  else if (node.subs !== undefined) for (const e of node.subs.values()) visitor.onSubscription(e);
  if (node.shared !== undefined) for (const g of node.shared.values()) visitor.onSharedGroup(g);
}
