// Turns a frame's decoded points into the model's named points: register or identifier → name, type,
// scale, offset and unit. Points the model does not name pass through unchanged, so nothing is lost
// when a model covers only part of what a device sends.
import type { Point } from '../types.ts';
import type { DeviceModel, ModelPoint } from './types.ts';

/** The points of one frame as the model names them. Pure; the input is not changed. */
export function applyModel(model: DeviceModel, points: readonly Point[]): Point[] {
  if (model.points.length === 0 || points.length === 0) return [...points];
  const byName = new Map<string, Point>();
  for (const p of points) byName.set(p.name, p);
  const used = new Set<string>();
  const named: Point[] = [];
  for (const mp of model.points) {
    const sources = mp.from.map((name) => byName.get(name));
    if (sources.some((s) => s === undefined)) continue; // this frame does not carry it
    const value = convert(
      mp,
      sources.map((s) => s!.value),
    );
    if (value === undefined) continue;
    for (const name of mp.from) used.add(name);
    const unit = mp.unit ?? (mp.from.length === 1 ? sources[0]!.unit : undefined);
    named.push(unit === undefined ? { name: mp.name, value } : { name: mp.name, value, unit });
  }
  if (named.length === 0) return [...points];
  return [...named, ...points.filter((p) => !used.has(p.name))];
}

/** One model point's value from its sources' values, or undefined when they do not fit its type. */
export function convert(
  mp: ModelPoint,
  values: readonly (number | string | boolean)[],
): Point['value'] | undefined {
  if (mp.type === 'string') return String(values[0]);
  if (mp.type === 'bool') {
    const v = values[0];
    return typeof v === 'boolean' ? v : typeof v === 'number' ? v !== 0 : undefined;
  }
  const nums = values.map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v));
  if (nums.some((v) => typeof v !== 'number' || !Number.isFinite(v))) return undefined;
  const [a, b] = nums as number[];
  let raw: number;
  switch (mp.type) {
    case 'u16':
      raw = a! & 0xffff;
      break;
    case 'i16':
      raw = ((a! & 0xffff) << 16) >> 16;
      break;
    case 'u32':
    case 'i32':
    case 'f32': {
      const [hi, lo] = mp.words === 'ABCD' ? [a!, b!] : [b!, a!];
      const buf = new DataView(new ArrayBuffer(4));
      buf.setUint16(0, hi & 0xffff);
      buf.setUint16(2, lo & 0xffff);
      raw = mp.type === 'u32' ? buf.getUint32(0) : mp.type === 'i32' ? buf.getInt32(0) : buf.getFloat32(0);
      break;
    }
    default:
      raw = a!;
  }
  return tidy(raw * mp.scale + mp.offset, mp);
}

/** Rounds away binary noise (0.1 × 2301 = 230.10000000000002); a float32 has about 7 significant digits. */
function tidy(value: number, mp: ModelPoint): number {
  return Number(value.toPrecision(mp.type === 'f32' ? 7 : 12));
}
