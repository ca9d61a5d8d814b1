// Recognising a device's model from what it sends. Evidence gathers over frames (a DL/T 645 meter
// answers one data identifier per frame); each clue of a model's `identify` section is confirmed or
// not; the confidence grows with the clues confirmed and stays modest for a model with few clues.
import type { Point } from '../types.ts';
import { applyModel } from './apply.ts';
import type { DeviceModel } from './types.ts';

/** What one device has shown so far. Bounded: at most MAX_NAMES point names and identifiers. */
export interface Evidence {
  contracts: Set<string>;
  addresses: Set<string>;
  dis: Set<string>;
  points: Map<string, Point>;
  fields: Map<string, unknown>;
}

const MAX_NAMES = 512;

export function newEvidence(): Evidence {
  return { contracts: new Set(), addresses: new Set(), dis: new Set(), points: new Map(), fields: new Map() };
}

/** Adds one decoded frame to the device's evidence. */
export function addEvidence(
  evidence: Evidence,
  contractId: string,
  fields: Record<string, unknown> | undefined,
  points: readonly Point[],
): void {
  evidence.contracts.add(contractId);
  if (fields) {
    if (typeof fields.address === 'string' && evidence.addresses.size < 16)
      evidence.addresses.add(fields.address);
    if (typeof fields.di === 'string' && evidence.dis.size < MAX_NAMES)
      evidence.dis.add(fields.di.toUpperCase());
    for (const [key, value] of Object.entries(fields)) {
      if (typeof value === 'object' && value !== null) continue; // only the frame's top-level scalars
      if (evidence.fields.has(key) || evidence.fields.size < MAX_NAMES) evidence.fields.set(key, value);
    }
  }
  for (const p of points) {
    if (evidence.points.has(p.name) || evidence.points.size < MAX_NAMES) evidence.points.set(p.name, p);
  }
}

export interface ModelScore {
  model: string;
  confidence: number;
  /** Clues confirmed and not (yet) confirmed, in words, for the dashboard's "why". */
  matched: string[];
  missing: string[];
}

/**
 * How well the evidence fits the model: 0 when the device speaks none of its contracts, else
 * (1 + clues confirmed) / (2 + clues): a model with only its contract to go by scores 0.5, one with
 * three clues all confirmed 0.8, never 1 (1 is for a model declared by the gateway or an operator).
 */
export function scoreModel(model: DeviceModel, evidence: Evidence): ModelScore {
  const matched: string[] = [];
  const missing: string[] = [];
  const contract = model.contracts.find((c) => evidence.contracts.has(c));
  if (!contract)
    return { model: model.id, confidence: 0, matched, missing: [`contract ${model.contracts.join('|')}`] };
  matched.push(`contract ${contract}`);
  const { address, dis, points, fields } = model.identify;
  const check = (ok: boolean, clue: string) => (ok ? matched : missing).push(clue);
  if (address)
    check(
      [...evidence.addresses].some((a) => address.test(a)),
      `address ${address.source}`,
    );
  for (const di of dis) check(evidence.dis.has(di), `di ${di}`);
  if (points.length > 0) {
    const named = new Map<string, Point>();
    for (const p of applyModel(model, [...evidence.points.values()])) named.set(p.name, p);
    for (const clue of points) {
      const p = named.get(clue.name) ?? evidence.points.get(clue.name);
      const v = p?.value;
      const ok =
        p !== undefined &&
        (clue.min === undefined || (typeof v === 'number' && v >= clue.min)) &&
        (clue.max === undefined || (typeof v === 'number' && v <= clue.max));
      check(
        ok,
        `point ${clue.name}${clue.min !== undefined || clue.max !== undefined ? ` in [${clue.min ?? ''}, ${clue.max ?? ''}]` : ''}`,
      );
    }
  }
  for (const [key, want] of Object.entries(fields))
    check(evidence.fields.get(key) === want, `field ${key} = ${String(want)}`);
  const clues = matched.length - 1 + missing.length;
  return { model: model.id, confidence: round(matched.length / (2 + clues)), matched, missing };
}

/**
 * The best-fitting model and how sure: when two models fit equally well the confidence is halved
 * (the evidence cannot tell them apart). Undefined when none speaks the device's contracts.
 */
export function identifyModel(models: Iterable<DeviceModel>, evidence: Evidence): ModelScore | undefined {
  let best: ModelScore | undefined;
  let tie = false;
  for (const model of models) {
    const score = scoreModel(model, evidence);
    if (score.confidence === 0) continue;
    if (!best || score.confidence > best.confidence) {
      best = score;
      tie = false;
    } else if (score.confidence === best.confidence) tie = true;
  }
  if (best && tie) return { ...best, confidence: round(best.confidence / 2) };
  return best;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
