/**
 * Retained messages by topic, with a tree of topic levels beside the map so that a wildcard
 * subscription visits only the branches its filter can match, not every retained message (a site
 * with 100 000 retained device states and a `site/+/state` subscriber reads the few it needs).
 * Same matches as `topicMatches` [MQTT-4.7.1-*], including [MQTT-4.7.2-1]: a wildcard at the first
 * level does not match topics that start with `$`.
 */
import type { Message } from './types.ts';

interface Level {
  children: Map<string, Level> | undefined;
  message: Message | undefined;
}

const newLevel = (): Level => ({ children: undefined, message: undefined });

export class RetainedIndex {
  private readonly byTopic = new Map<string, Message>();
  private readonly root: Level = newLevel();

  get size(): number {
    return this.byTopic.size;
  }

  get(topic: string): Message | undefined {
    return this.byTopic.get(topic);
  }

  values(): IterableIterator<Message> {
    return this.byTopic.values();
  }

  set(topic: string, message: Message): void {
    let level = this.root;
    for (const name of topic.split('/')) {
      const children = (level.children ??= new Map());
      let next = children.get(name);
      if (next === undefined) children.set(name, (next = newLevel()));
      level = next;
    }
    level.message = message;
    this.byTopic.set(topic, message);
  }

  /** Removes the topic's message; levels left with nothing below them go too. */
  delete(topic: string): boolean {
    if (!this.byTopic.delete(topic)) return false;
    const path: Level[] = [this.root];
    const names = topic.split('/');
    for (const name of names) path.push(path[path.length - 1]!.children!.get(name)!);
    path[path.length - 1]!.message = undefined;
    for (let i = names.length; i > 0; i--) {
      const level = path[i]!;
      if (level.message !== undefined || (level.children !== undefined && level.children.size > 0)) break;
      path[i - 1]!.children!.delete(names[i - 1]!);
    }
    return true;
  }

  /** The retained messages whose topics `filter` matches (a valid filter; collected before delivery). */
  match(filter: string): Message[] {
    const out: Message[] = [];
    collect(this.root, filter.split('/'), 0, out);
    return out;
  }
}

function collect(level: Level, filter: string[], i: number, out: Message[]): void {
  if (i === filter.length) {
    if (level.message !== undefined) out.push(level.message);
    return;
  }
  const name = filter[i]!;
  if (name === '#') {
    // 'a/#' matches 'a' itself [MQTT-4.7.1-2]
    if (level.message !== undefined) out.push(level.message);
    if (level.children !== undefined)
      for (const [key, child] of level.children) if (i > 0 || !key.startsWith('$')) everything(child, out);
    return;
  }
  if (level.children === undefined) return;
  if (name === '+') {
    for (const [key, child] of level.children)
      if (i > 0 || !key.startsWith('$')) collect(child, filter, i + 1, out);
    return;
  }
  const child = level.children.get(name);
  if (child !== undefined) collect(child, filter, i + 1, out);
}

function everything(level: Level, out: Message[]): void {
  if (level.message !== undefined) out.push(level.message);
  if (level.children !== undefined) for (const child of level.children.values()) everything(child, out);
}
