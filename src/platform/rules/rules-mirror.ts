// The edge's copy of the cloud's linkage rules (the edge pulls them from the cloud so
// that linkage between devices keeps working locally during an outage). At start and then
// periodically it reads GET /api/rules from the cloud platform and keeps the last copy in the edge's
// own store, so an edge that restarts during an outage still has them.
//
// Both sides see the same readings (the edge forwards every uplink), so both would act on them: while
// the cloud link is up, the copied rules stand by on the edge (their state follows the readings, the
// actions are left to the cloud); when the link is down, the edge carries them out itself.
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { PlatformStore } from '../store/types.ts';
import { parseRule } from './rule.ts';
import type { RulesEngine } from './rules-engine.ts';

/** Setting that lists the rule ids copied from the cloud (the others are the edge's own). */
export const MIRRORED_RULES_SETTING = 'rules.mirrored';
export const DEFAULT_RULES_PULL_MS = 60_000;
const PULL_TIMEOUT_MS = 10_000;

export class RulesMirrorError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RulesMirrorError';
  }
}

export interface RulesMirrorOptions {
  /** Base URL of the cloud platform's HTTP API, e.g. http://cloud.example:8080 (for pull()). */
  cloudApiUrl: string;
  /** An API token of the cloud platform (viewer is enough to read the rules; the edge sync needs operator). */
  cloudApiToken?: string;
  /** True while the edge's link to the cloud works (CloudLink.connected). */
  cloudUp(): boolean;
  intervalMs?: number;
  logger?: Logger;
}

export class RulesMirror {
  #mirrored = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #pulling: Promise<number> | undefined;

  constructor(
    private readonly deps: { engine: RulesEngine; store: PlatformStore; clock: Clock },
    private readonly options: RulesMirrorOptions,
  ) {}

  /** The ids copied from the cloud, as last stored. */
  get mirrored(): ReadonlySet<string> {
    return this.#mirrored;
  }

  /** Reads the last copy's ids and puts the copied rules on standby while the cloud is up. */
  async restore(): Promise<void> {
    const stored = await this.deps.store.getSetting(MIRRORED_RULES_SETTING);
    this.#mirrored = new Set(stored ? (JSON.parse(stored) as string[]) : []);
    this.deps.engine.setStandby((id) => this.#mirrored.has(id) && this.options.cloudUp());
  }

  /** restore(), then pulls now and periodically. */
  async start(): Promise<void> {
    await this.restore();
    await this.pull().catch((err) => this.#warn(err));
    this.#timer = setInterval(
      () => void this.pull().catch((err) => this.#warn(err)),
      this.options.intervalMs ?? DEFAULT_RULES_PULL_MS,
    );
    this.#timer.unref?.();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#pulling?.catch(() => undefined);
  }

  /** One pull; returns the number of rules copied. On failure the last copy stays as it is. */
  pull(): Promise<number> {
    this.#pulling ??= this.#pull().finally(() => (this.#pulling = undefined));
    return this.#pulling;
  }

  async #pull(): Promise<number> {
    const url = `${this.options.cloudApiUrl.replace(/\/+$/, '')}/api/rules`;
    let items: Record<string, unknown>[];
    try {
      const token = this.options.cloudApiToken;
      const res = await fetch(url, {
        signal: AbortSignal.timeout(PULL_TIMEOUT_MS),
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
      if (res.status === 401 || res.status === 403)
        throw new Error(`HTTP ${res.status}: set MQIOT_CLOUD_API_TOKEN to a cloud API token (role viewer)`);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      items = ((await res.json()) as { items: Record<string, unknown>[] }).items;
      if (!Array.isArray(items)) throw new Error('answer has no items list');
    } catch (err) {
      throw new RulesMirrorError(`cannot pull the rules from ${url}`, { cause: err });
    }
    return this.apply(items);
  }

  /**
   * Makes the copy exactly `items` (rule documents as the cloud's API lists them): new and changed
   * rules are stored, rules no longer there deleted; returns the number of rules copied.
   */
  async apply(items: readonly Record<string, unknown>[]): Promise<number> {
    const { store, clock, engine } = this.deps;
    const ids: string[] = [];
    for (const item of items) {
      const { createdAt: _c, updatedAt: _u, status: _s, ...document } = item;
      let rule;
      try {
        rule = parseRule(document);
      } catch (err) {
        // A rule this edge's version cannot run (newer fields) is skipped, not the whole copy.
        this.options.logger?.warn({ err, rule: item.id }, 'cloud rule not understood here; skipped');
        continue;
      }
      ids.push(rule.id);
      const existing = await store.getRule(rule.id);
      if (existing && JSON.stringify(existing.definition) === JSON.stringify(rule)) continue;
      const now = Math.max(clock.now(), (existing?.updatedAt ?? 0) + 1);
      await store.saveRule({
        id: rule.id,
        definition: { ...rule },
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      });
    }
    for (const id of this.#mirrored) if (!ids.includes(id)) await store.deleteRule(id);
    await store.setSetting(MIRRORED_RULES_SETTING, JSON.stringify(ids));
    this.#mirrored = new Set(ids);
    await engine.load();
    return ids.length;
  }

  #warn(err: unknown): void {
    this.options.logger?.warn({ err }, 'rules pull failed; keeping the last copy');
  }
}
