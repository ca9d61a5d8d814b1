/**
 * Topic filter relations an ACL needs, on filters split into levels once at load time:
 * does a filter match a topic name (PUBLISH), does one filter lie inside another (SUBSCRIBE allowed
 * by a rule), do two filters share a topic (SUBSCRIBE touching a denied rule). All follow the
 * `$` rule: a wildcard in the first level does not match a topic that starts with `$` [MQTT-4.7.2-1].
 */

/** A topic filter split into levels, with the facts the matchers need precomputed. */
export interface CompiledFilter {
  readonly filter: string;
  readonly levels: readonly string[];
  /** The first level is `+` or `#`: the filter never matches a `$` topic. */
  readonly wildFirst: boolean;
}

export function compileFilter(filter: string): CompiledFilter {
  const levels = filter.split('/');
  return { filter, levels, wildFirst: levels[0] === '+' || levels[0] === '#' };
}

/**
 * True when the filter matches the topic name. Walks the topic in place (no split, no allocation):
 * this runs on every PUBLISH whose decision is not cached.
 */
export function filterMatchesTopic(f: CompiledFilter, topic: string): boolean {
  if (f.wildFirst && topic.charCodeAt(0) === 0x24 /* $ */) return false; // [MQTT-4.7.2-1]
  const levels = f.levels;
  let start = 0;
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level === '#') return true; // [MQTT-4.7.1-2] also matches the parent level
    if (start > topic.length) return false; // the topic has fewer levels
    let end = topic.indexOf('/', start);
    if (end === -1) end = topic.length;
    if (level !== '+') {
      if (end - start !== level.length || !topic.startsWith(level, start)) return false;
    }
    start = end + 1;
  }
  return start === topic.length + 1; // every level of the topic consumed
}

/** True when every topic that `inner` matches is also matched by `outer` (inner ⊆ outer). */
export function filterCovers(outer: CompiledFilter, inner: CompiledFilter): boolean {
  // `outer` starting with a wildcard never matches `$` topics; `inner` may name some
  if (outer.wildFirst && !inner.wildFirst && inner.levels[0]!.startsWith('$')) return false;
  const o = outer.levels;
  const n = inner.levels;
  for (let i = 0; i < o.length; i++) {
    const ol = o[i]!;
    if (ol === '#') return true;
    if (i >= n.length) return false;
    const nl = n[i]!;
    if (nl === '#') return false; // inner goes deeper/wider than a non-# outer level
    if (ol === '+') continue;
    if (nl !== ol) return false; // a literal outer level covers only the same literal (not `+`)
  }
  if (n.length === o.length) return true;
  // outer ended; inner `x/#` also matches `x` itself, still inside outer only when outer is `x/#`
  return false;
}

/** True when some topic name matches both filters. */
export function filtersOverlap(a: CompiledFilter, b: CompiledFilter): boolean {
  const al = a.levels;
  const bl = b.levels;
  // a `$` first level is matched only by a literal level
  if (a.wildFirst && !b.wildFirst && bl[0]!.startsWith('$')) return false;
  if (b.wildFirst && !a.wildFirst && al[0]!.startsWith('$')) return false;
  const n = Math.min(al.length, bl.length);
  for (let i = 0; i < n; i++) {
    const x = al[i]!;
    const y = bl[i]!;
    if (x === '#' || y === '#') return true;
    if (x === '+' || y === '+' || x === y) continue;
    return false;
  }
  if (al.length === bl.length) return true;
  // one is longer: it overlaps only if its next (and last) level is `#` (`a/#` matches `a`)
  const longer = al.length > bl.length ? al : bl;
  return longer.length === n + 1 && longer[n] === '#';
}
