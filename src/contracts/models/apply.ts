// Turns a frame's decoded points into the model's named points: register or identifier → name, type,
// scale, offset and unit. Points the model does not name pass through unchanged, so nothing is lost
// when a model covers only part of what a device sends. This runs for every frame of a device with a
// model, so each model is compiled once into a plan (which input name feeds which model point).
import type { Point } from '../types.ts';
import type { DeviceModel, ModelPoint } from './types.ts';

interface Plan {
  /** Input point name → [model point index, position in its `from`]. */
  slots: Map<string, [number, number]>;
  /** Per model point: 10^decimals to round a scaled integer to, or 0 when no rounding is needed. */
  round: number[];
}

const plans = new WeakMap<DeviceModel, Plan>();

function planOf(model: DeviceModel): Plan {
  let plan = plans.get(model);
  if (!plan) {
    const slots = new Map<string, [number, number]>();
    model.points.forEach((mp, i) => mp.from.forEach((name, j) => slots.set(name, [i, j])));
    const round = model.points.map((mp) =>
      mp.scale === 1 && mp.offset === 0 ? 0 : 10 ** Math.min(12, decimals(mp.scale) + decimals(mp.offset)),
    );
    plan = { slots, round };
    plans.set(model, plan);
  }
  return plan;
}

/** The points of one frame as the model names them. Pure; the input is not changed. */
export function applyModel(model: DeviceModel, points: readonly Point[]): Point[] {
  if (model.points.length === 0 || points.length === 0) return [...points];
  const plan = planOf(model);
  // sources[i][j]: the index in `points` of the point feeding position j of model point i in this
  // frame. Plain loops and indexes: this runs for every frame of a device with a model.
  let sources: number[][] | undefined;
  for (let k = 0; k < points.length; k++) {
    const slot = plan.slots.get(points[k]!.name);
    if (slot !== undefined) ((sources ??= [])[slot[0]] ??= [])[slot[1]] = k;
  }
  if (sources === undefined) return [...points];
  const named: Point[] = [];
  // the model points made in this frame: the inputs they name are not passed through as well
  const made: boolean[] = [];
  for (let i = 0; i < model.points.length; i++) {
    const got = sources[i];
    if (got === undefined) continue;
    const mp = model.points[i]!;
    const values: (number | string | boolean)[] = [];
    for (let j = 0; j < mp.from.length; j++) {
      const k = got[j];
      if (k === undefined) break; // this frame does not carry all of it
      values.push(points[k]!.value);
    }
    if (values.length < mp.from.length) continue;
    const value = convert(mp, values, plan.round[i]!);
    if (value === undefined) continue;
    made[i] = true;
    const unit = mp.unit ?? (mp.from.length === 1 ? points[got[0]!]!.unit : undefined);
    named.push(unit === undefined ? { name: mp.name, value } : { name: mp.name, value, unit });
  }
  if (named.length === 0) return [...points];
  for (let k = 0; k < points.length; k++) {
    const slot = plan.slots.get(points[k]!.name);
    if (slot === undefined || made[slot[0]] !== true) named.push(points[k]!);
  }
  return named;
}

const f32 = new DataView(new ArrayBuffer(4));

/** One model point's value from its sources' values, or undefined when they do not fit its type. */
export function convert(
  mp: ModelPoint,
  values: readonly (number | string | boolean)[],
  round = -1,
): Point['value'] | undefined {
  if (mp.type === 'string') return String(values[0]);
  if (mp.type === 'bool') {
    const v = values[0];
    return typeof v === 'boolean' ? v : typeof v === 'number' ? v !== 0 : undefined;
  }
  const a = toNumber(values[0]);
  if (a === undefined) return undefined;
  let raw: number;
  switch (mp.type) {
    case 'u16':
      raw = a & 0xffff;
      break;
    case 'i16':
      raw = ((a & 0xffff) << 16) >> 16;
      break;
    case 'u32':
    case 'i32':
    case 'f32': {
      const b = toNumber(values[1]);
      if (b === undefined) return undefined;
      const [hi, lo] = mp.words === 'ABCD' ? [a & 0xffff, b & 0xffff] : [b & 0xffff, a & 0xffff];
      if (mp.type === 'f32') {
        f32.setUint16(0, hi);
        f32.setUint16(2, lo);
        return Number((f32.getFloat32(0) * mp.scale + mp.offset).toPrecision(7));
      }
      raw = hi * 65536 + lo;
      if (mp.type === 'i32' && raw >= 0x80000000) raw -= 0x100000000;
      break;
    }
    default:
      raw = a;
  }
  if (round === 0 || (mp.scale === 1 && mp.offset === 0)) return raw;
  const value = raw * mp.scale + mp.offset;
  // binary noise away (0.1 × 2301 = 230.10000000000002): to the scale's decimals for an integer
  // source, to 12 significant digits otherwise
  return round > 0 && Number.isInteger(raw)
    ? Math.round(value * round) / round
    : Number(value.toPrecision(12));
}

function toNumber(v: number | string | boolean | undefined): number | undefined {
  if (typeof v === 'boolean') return v ? 1 : 0;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function decimals(n: number): number {
  const s = String(n);
  const e = /e-(\d+)$/.exec(s);
  if (e) return Number(e[1]) + (s.split('e')[0]!.split('.')[1]?.length ?? 0);
  const dot = s.indexOf('.');
  return dot < 0 ? 0 : s.length - dot - 1;
}
