/**
 * Topic filter relations an ACL needs, on filters split into levels once at load time: does a
 * set of filters match a topic name (PUBLISH, a trie), does one filter lie inside another
 * (SUBSCRIBE allowed by a rule), do two filters share a topic (SUBSCRIBE touching a denied rule).
 * All follow the `$` rule: a wildcard in the first level does not match a `$` topic [MQTT-4.7.2-1].
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

/** The values `%u` and `%c` stand for in ACL patterns. */
export interface Substitution {
  readonly username: string | undefined;
  readonly clientId: string;
}

/** True when a filter level holds a placeholder. */
export function isTemplateLevel(level: string): boolean {
  return level.includes('%u') || level.includes('%c');
}

/** A level or filter with `%u` / `%c` replaced; undefined when it needs a username the client lacks. */
export function expandTemplate(template: string, s: Substitution): string | undefined {
  if (template === '%u') return s.username;
  if (template === '%c') return s.clientId;
  if (s.username === undefined && template.includes('%u')) return undefined;
  return template.replaceAll('%u', s.username ?? '').replaceAll('%c', s.clientId);
}

class TrieNode {
  readonly children = new Map<string, TrieNode>();
  plus: TrieNode | undefined;
  /** Levels with placeholders (ACL patterns), compared after substitution. */
  templates: { level: string; node: TrieNode }[] | undefined;
  /** A filter ends here with `#`: everything below (and this level itself) matches. */
  hash = false;
  /** A filter ends exactly here. */
  end = false;
}

/**
 * A set of filters as a trie of levels: "does any of them match this topic" costs one walk of the
 * topic's levels (with a branch per `+` or placeholder), however many filters there are. Used for
 * ACL grants and denials on the PUBLISH path. Levels holding `%u` / `%c` (ACL patterns) stay
 * templates: one trie serves every client, which passes its own values to `matches`.
 */
export class FilterSet {
  readonly #root = new TrieNode();
  size = 0;

  add(f: CompiledFilter, templated = false): void {
    let node = this.#root;
    for (const level of f.levels) {
      if (level === '#') {
        node.hash = true;
        this.size++;
        return;
      }
      if (level === '+') {
        node = node.plus ??= new TrieNode();
      } else if (templated && isTemplateLevel(level)) {
        node.templates ??= [];
        let entry = node.templates.find((t) => t.level === level);
        if (entry === undefined) node.templates.push((entry = { level, node: new TrieNode() }));
        node = entry.node;
      } else {
        let next = node.children.get(level);
        if (next === undefined) node.children.set(level, (next = new TrieNode()));
        node = next;
      }
    }
    node.end = true;
    this.size++;
  }

  /** True when some filter of the set matches the topic name [MQTT-4.7.2-1 included]. */
  matches(topic: string, subst?: Substitution): boolean {
    if (this.size === 0) return false;
    const levels = topic.split('/');
    const root = this.#root;
    // a `$` topic is matched by no filter starting with a wildcard [MQTT-4.7.2-1]
    if (topic.charCodeAt(0) === 0x24 /* $ */) {
      const next = root.children.get(levels[0]!);
      if (next !== undefined && walk(next, levels, 1, subst)) return true;
      return root.templates !== undefined && walkTemplates(root.templates, levels, 0, subst);
    }
    return walk(root, levels, 0, subst);
  }
}

function walk(
  node: TrieNode,
  levels: readonly string[],
  i: number,
  subst: Substitution | undefined,
): boolean {
  if (node.hash) return true;
  if (i === levels.length) return node.end;
  const next = node.children.get(levels[i]!);
  if (next !== undefined && walk(next, levels, i + 1, subst)) return true;
  if (node.plus !== undefined && walk(node.plus, levels, i + 1, subst)) return true;
  return node.templates !== undefined && walkTemplates(node.templates, levels, i, subst);
}

function walkTemplates(
  templates: readonly { level: string; node: TrieNode }[],
  levels: readonly string[],
  i: number,
  subst: Substitution | undefined,
): boolean {
  if (subst === undefined) return false;
  for (const t of templates) {
    if (expandTemplate(t.level, subst) === levels[i] && walk(t.node, levels, i + 1, subst)) return true;
  }
  return false;
}
