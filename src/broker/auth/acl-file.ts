/**
 * Mosquitto ACL files (mosquitto.conf(5), `acl_file`), compiled once into a matcher.
 *
 *   # comment
 *   topic read public/#            ← before any `user` line: anonymous clients
 *   user alice
 *   topic readwrite alice/#        ← alice only
 *   topic deny alice/secret
 *   pattern write sensors/%u/data  ← every client, %u = username, %c = client id
 *
 * Decision, as Mosquitto's default ACL check makes it: first the client's own `topic` rules (its
 * user's, or the anonymous ones when it has no username), a matching `deny` first, then a matching
 * grant; then the `pattern` rules the same way; nothing matched: denied. read = subscribe and
 * receive, write = publish (will messages included).
 *
 * Reading is checked per message at delivery (BrokerHooks.authorizeDeliver), as Mosquitto does: a
 * subscription to `#` by a client that may read `public/#` gets the public messages only. SUBSCRIBE
 * itself is granted when some read rule shares a topic with the filter and no deny rule covers all
 * of it; a filter under which nothing is readable is refused (0x87, 3.1.1: 0x80), where Mosquitto
 * 2.0 would grant it and deliver nothing.
 */
import { readFileSync } from 'node:fs';
import { isValidTopicFilter, parseSharedFilter } from '../../protocol/topic.ts';
import type { ClientInfo } from '../types.ts';
import { AuthFileError } from './errors.ts';
import {
  compileFilter,
  filterCovers,
  filtersOverlap,
  expandTemplate,
  FilterSet,
  type CompiledFilter,
  type Substitution,
} from './topic-rules.ts';

export const Access = { Deny: 0, Read: 1, Write: 2, ReadWrite: 3 } as const;
export type Access = (typeof Access)[keyof typeof Access];

const ACCESS_WORDS: Readonly<Record<string, Access>> = {
  deny: Access.Deny,
  read: Access.Read,
  write: Access.Write,
  readwrite: Access.ReadWrite,
};

export interface AclRule {
  readonly access: Access;
  readonly filter: string;
  readonly line: number;
}

export interface ParsedAcl {
  readonly file: string;
  /** `topic` lines before the first `user` line. */
  readonly anonymous: readonly AclRule[];
  readonly users: ReadonlyMap<string, readonly AclRule[]>;
  readonly patterns: readonly AclRule[];
}

function hasWildcard(value: string): boolean {
  return value.includes('+') || value.includes('#');
}

/** A value that %u / %c may put into a pattern: exactly one ordinary topic level. */
function isSafeLevel(value: string): boolean {
  return value !== '' && !value.includes('/') && !value.startsWith('$') && !hasWildcard(value);
}

export function parseAclFile(text: string, file: string): ParsedAcl {
  const anonymous: AclRule[] = [];
  const users = new Map<string, AclRule[]>();
  const patterns: AclRule[] = [];
  let current: AclRule[] = anonymous;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const space = line.search(/\s/);
    const keyword = space === -1 ? line : line.slice(0, space);
    const rest = space === -1 ? '' : line.slice(space + 1).trim();
    if (keyword === 'user') {
      if (rest === '') throw new AuthFileError(file, lineNo, "'user' needs a username");
      current = users.get(rest) ?? [];
      users.set(rest, current);
    } else if (keyword === 'topic' || keyword === 'pattern') {
      const rule = parseRule(keyword, rest, file, lineNo);
      (keyword === 'topic' ? current : patterns).push(rule);
    } else {
      throw new AuthFileError(file, lineNo, `unknown keyword '${keyword}' (expected user, topic or pattern)`);
    }
  }
  return { file, anonymous, users, patterns };
}

function parseRule(keyword: string, rest: string, file: string, line: number): AclRule {
  const space = rest.search(/\s/);
  const first = space === -1 ? rest : rest.slice(0, space);
  let access: Access = Access.ReadWrite;
  let filter = rest;
  if (Object.hasOwn(ACCESS_WORDS, first)) {
    access = ACCESS_WORDS[first]!;
    filter = space === -1 ? '' : rest.slice(space + 1).trim();
  }
  if (filter === '') throw new AuthFileError(file, line, `'${keyword}' needs a topic filter`);
  if (!isValidTopicFilter(filter)) {
    throw new AuthFileError(
      file,
      line,
      `'${filter}' is not a valid topic filter (wildcards only as whole levels)`,
    );
  }
  return { access, filter, line };
}

/** Grants and denials of one stage (topic rules, or patterns after substitution), split for speed. */
interface Stage {
  readonly deny: readonly CompiledFilter[];
  readonly read: readonly CompiledFilter[];
  /** The same denials, and the write and read grants, as tries for PUBLISH and delivery. */
  readonly denySet: FilterSet;
  readonly writeSet: FilterSet;
  readonly readSet: FilterSet;
}

const EMPTY_STAGE: Stage = {
  deny: [],
  read: [],
  denySet: new FilterSet(),
  writeSet: new FilterSet(),
  readSet: new FilterSet(),
};
/**
 * Decisions remembered per client (publish topics); cleared when full. Small: a gateway or a sensor
 * publishes to a handful of topics, and a computed decision costs well under a microsecond.
 */
export const MAX_CACHED_TOPICS = 64;

function compileStage(rules: readonly AclRule[], templated = false): Stage {
  const deny: CompiledFilter[] = [];
  const read: CompiledFilter[] = [];
  const denySet = new FilterSet();
  const writeSet = new FilterSet();
  const readSet = new FilterSet();
  for (const r of rules) {
    const f = compileFilter(r.filter);
    if (r.access === Access.Deny) {
      deny.push(f);
      denySet.add(f, templated);
    }
    if (r.access & Access.Read) {
      read.push(f);
      readSet.add(f, templated);
    }
    if (r.access & Access.Write) writeSet.add(f, templated);
  }
  return { deny, read, denySet, writeSet, readSet };
}

/** What one connected client needs: its topic rules, whether patterns apply, its recent decisions. */
class ClientRules {
  readonly topics: Stage;
  /** undefined: the pattern stage denies (unsafe username / client id). */
  readonly subst: Substitution | undefined;
  readonly published = new Map<string, boolean>();
  readonly received = new Map<string, boolean>();

  constructor(topics: Stage, subst: Substitution | undefined) {
    this.topics = topics;
    this.subst = subst;
  }
}

const Verdict = { Deny: 0, Allow: 1, NoMatch: 2 } as const;
type Verdict = (typeof Verdict)[keyof typeof Verdict];

function topicVerdict(stage: Stage, grants: FilterSet, topic: string, subst?: Substitution): Verdict {
  if (stage.denySet.matches(topic, subst)) return Verdict.Deny;
  if (grants.matches(topic, subst)) return Verdict.Allow;
  return Verdict.NoMatch;
}

function subscribeVerdict(stage: Stage, filter: CompiledFilter): Verdict {
  for (const f of stage.deny) if (filterCovers(f, filter)) return Verdict.Deny;
  for (const f of stage.read) if (filtersOverlap(f, filter)) return Verdict.Allow;
  return Verdict.NoMatch;
}

/** Patterns at SUBSCRIBE (rare): substituted on the fly, nothing kept per client. */
function patternSubscribeVerdict(
  rules: readonly AclRule[],
  subst: Substitution,
  filter: CompiledFilter,
): Verdict {
  let allowed = false;
  for (const r of rules) {
    const expanded = expandTemplate(r.filter, subst);
    if (expanded === undefined) continue; // a %u pattern, a client without a username
    const f = compileFilter(expanded);
    if (r.access === Access.Deny && filterCovers(f, filter)) return Verdict.Deny;
    if (r.access & Access.Read && !allowed) allowed = filtersOverlap(f, filter);
  }
  return allowed ? Verdict.Allow : Verdict.NoMatch;
}

/** A compiled ACL file. Immutable: a reload builds a new one (and so drops every cache). */
export class Acl {
  readonly file: string;
  readonly #anonymous: Stage;
  readonly #users: ReadonlyMap<string, Stage>;
  readonly #patterns: readonly AclRule[];
  /** The patterns once for all clients, placeholders kept as template levels. */
  readonly #patternStage: Stage;
  readonly #patternsUseUser: boolean;
  readonly #patternsUseClient: boolean;
  readonly #clients = new WeakMap<ClientInfo, ClientRules>();

  constructor(parsed: ParsedAcl) {
    this.file = parsed.file;
    this.#anonymous = compileStage(parsed.anonymous);
    this.#users = new Map([...parsed.users].map(([user, rules]) => [user, compileStage(rules)]));
    this.#patterns = parsed.patterns;
    this.#patternStage = compileStage(parsed.patterns, true);
    this.#patternsUseUser = parsed.patterns.some((p) => p.filter.includes('%u'));
    this.#patternsUseClient = parsed.patterns.some((p) => p.filter.includes('%c'));
  }

  static load(file: string): Acl {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new AuthFileError(file, undefined, `cannot read ACL file: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return new Acl(parseAclFile(text, file));
  }

  /** PUBLISH (and a will message): may this client send to this topic? */
  canPublish(client: ClientInfo, topic: string): boolean {
    const rules = this.#rulesOf(client);
    return this.#decide(rules, rules.published, rules.topics.writeSet, this.#patternStage.writeSet, topic);
  }

  /** Delivery: may this client receive a message on this topic (read, as Mosquitto checks it)? */
  canRead(client: ClientInfo, topic: string): boolean {
    const rules = this.#rulesOf(client);
    return this.#decide(rules, rules.received, rules.topics.readSet, this.#patternStage.readSet, topic);
  }

  #decide(
    rules: ClientRules,
    cache: Map<string, boolean>,
    grants: FilterSet,
    patternGrants: FilterSet,
    topic: string,
  ): boolean {
    const cached = cache.get(topic);
    if (cached !== undefined) return cached;
    let verdict = topicVerdict(rules.topics, grants, topic);
    if (verdict === Verdict.NoMatch)
      verdict = rules.subst
        ? topicVerdict(this.#patternStage, patternGrants, topic, rules.subst)
        : Verdict.Deny;
    const allowed = verdict === Verdict.Allow;
    if (cache.size >= MAX_CACHED_TOPICS) cache.clear();
    cache.set(topic, allowed);
    return allowed;
  }

  /** SUBSCRIBE: may this client subscribe to this filter (`$share/group/` stripped)? */
  canSubscribe(client: ClientInfo, filter: string): boolean {
    const shared = parseSharedFilter(filter);
    const f = compileFilter(shared ? shared.filter : filter);
    const rules = this.#rulesOf(client);
    let verdict = subscribeVerdict(rules.topics, f);
    if (verdict === Verdict.NoMatch)
      verdict = rules.subst ? patternSubscribeVerdict(this.#patterns, rules.subst, f) : Verdict.Deny;
    return verdict === Verdict.Allow;
  }

  #rulesOf(client: ClientInfo): ClientRules {
    let rules = this.#clients.get(client);
    if (rules === undefined) {
      rules = this.#compileFor(client);
      this.#clients.set(client, rules);
    }
    return rules;
  }

  #compileFor(client: ClientInfo): ClientRules {
    const { username, clientId } = client;
    const topics = username === undefined ? this.#anonymous : (this.#users.get(username) ?? EMPTY_STAGE);
    const subst: Substitution = { username, clientId };
    if (this.#patterns.length === 0) return new ClientRules(topics, subst);
    // CVE-2017-7650: Mosquitto gives no pattern to a client whose username or client id holds a
    // wildcard, as `pattern readwrite devices/%u/#` would then reach other clients' subtrees
    if ((username !== undefined && hasWildcard(username)) || hasWildcard(clientId))
      return new ClientRules(topics, undefined);
    // further than Mosquitto: a '/' (moves into another subtree), a leading '$' or an empty value
    // (drops a level) refuses the patterns that would substitute it
    if (this.#patternsUseUser && username !== undefined && !isSafeLevel(username))
      return new ClientRules(topics, undefined);
    if (this.#patternsUseClient && !isSafeLevel(clientId)) return new ClientRules(topics, undefined);
    // a %u pattern does not apply to a client without a username (Mosquitto skips it): the
    // template levels expand to nothing then (expandTemplate)
    return new ClientRules(topics, subst);
  }
}
