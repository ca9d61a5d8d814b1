/**
 * Topic name / topic filter rules (MQTT 5.0 §4.7, 3.1.1 §4.7). Pure string checks, no broker state.
 */

/** A topic name in PUBLISH: non-empty, no wildcards [MQTT-3.3.2-2], no NUL [MQTT-1.5.4-2]. */
export function isValidTopicName(topic: string): boolean {
  if (topic.length === 0) return false; // [MQTT-4.7.3-1]
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x23 /* # */ || c === 0x2b /* + */ || c === 0) return false;
  }
  return true;
}

/** A topic filter in SUBSCRIBE/UNSUBSCRIBE: wildcards only as whole levels, `#` last [MQTT-4.7.1-1..3]. */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0) return false; // [MQTT-4.7.3-1]
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('\u0000')) return false;
    if (level === '#') {
      if (i !== levels.length - 1) return false; // [MQTT-4.7.1-2]
    } else if (level === '+') {
      continue;
    } else if (level.includes('#') || level.includes('+')) {
      return false; // [MQTT-4.7.1-3]
    }
  }
  return true;
}

export function hasWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#');
}

export interface SharedFilter {
  group: string;
  filter: string;
}

/**
 * Splits `$share/{group}/{filter}` (MQTT 5.0 §4.8.2). Returns undefined for a normal filter and
 * null for a malformed shared filter (empty group, wildcard in the group, no filter) [MQTT-4.8.2-1..2].
 */
export function parseSharedFilter(filter: string): SharedFilter | undefined | null {
  if (!filter.startsWith('$share/')) return undefined;
  const rest = filter.slice(7);
  const slash = rest.indexOf('/');
  if (slash <= 0) return null;
  const group = rest.slice(0, slash);
  const inner = rest.slice(slash + 1);
  if (group.includes('+') || group.includes('#') || inner.length === 0) return null;
  if (!isValidTopicFilter(inner)) return null;
  return { group, filter: inner };
}

/** True when a topic filter matches a topic name, with the $-rule [MQTT-4.7.2-1]. Reference implementation. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
