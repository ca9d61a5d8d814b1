// One value's code after its raw read: const and valid checks, scale and offset (an exact division
// where it gives the same result), enum labels, hex format and the field's point. The raw read itself
// (body) comes from the layers above.
import {
  GenBase,
  internalize,
  isNumeric,
  isString,
  type GScope,
  type Loc,
  type ValueType,
} from './codegen-expr.ts';
import { parseExpr } from './expr.ts';
import type { Cx } from './layout.ts';
import { parseNumType, toHexString } from './primitives.ts';
import { asBytes, asNumber, asObject, normalizeKey, type Obj } from './spec.ts';

export abstract class ValueGen extends GenBase {
  /**
   * Whether code emitted so far may have made points (a field's `point`, a closure op). Until then
   * `pts` is certainly W.noPoints, and the first points rule allocates its array without asking.
   */
  protected mayHavePoints = false;

  constructor(protected readonly cx: Cx) {
    super();
  }

  /** The raw value expression (after emitting the statements that read it). */
  abstract body(f: Obj, kind: string, gs: GScope, loc: Loc, path: string, merge: boolean): string;

  /** Whether the value element() produces for `f` is always a number or always a string. */
  typeOf(f: Obj, kind: string, gs: GScope, path: string): ValueType {
    if (f.enum !== undefined) return undefined;
    const num = parseNumType(kind, (f.endian as string | undefined) ?? this.cx.endian, f.words, path);
    if (f.format === 'hex' && kind !== 'bytes' && kind !== 'bcd') return num ? 'string' : undefined;
    if (num) return num.kind === 'float' || num.size <= 6 ? 'number' : undefined; // u64 may be a string
    if (kind === 'bcd') return f.format === 'string' ? 'string' : 'number'; // a bad digit fails the decode
    if (kind === 'bytes') return 'string'; // hex text (format 'array' is a closure fallback)
    if (kind === 'value') {
      const node = parseExpr(f.value, '', this.has(gs));
      if (isNumeric(node, this.numId(gs))) return 'number';
      if (isString(node, this.typeId(gs, 'string'))) return 'string';
    }
    return undefined;
  }

  /** One value with checks, scaling, enum, format and point; returns the local that holds it. */
  element(f: Obj, kind: string, gs: GScope, loc: Loc, path: string): string {
    const label = typeof f.name === 'string' ? f.name : kind;
    const at = this.t('at');
    this.emit(`const ${at} = p;`);
    const v = this.t('v');
    this.emit(`let ${v} = ${this.body(f, kind, gs, loc, path, false)};`);
    if (f.const !== undefined) {
      const want =
        kind === 'bytes'
          ? this.k(toHexString(asBytes(f.const, ''), 0, asBytes(f.const, '').length, false))
          : this.num(f.const);
      this.emit(
        `if (${v} !== ${want}) H.fail(s, ${at}, 'invalid', ${this.k(`'${label}' is `)} + ${v} + ${this.k(', expected ')} + ${want});`,
      );
    }
    if (f.valid !== undefined) {
      const bad = `H.fail(s, ${at}, 'invalid', ${this.k(`'${label}' = `)} + ${v} + ${this.k(' is not valid')})`;
      if (Array.isArray(f.valid)) this.emit(`if (!${this.k(new Set(f.valid))}.has(${v})) ${bad};`);
      else this.emit(`if (!(${this.exprOf(f.valid, gs, { ...loc, value: v })})) ${bad};`);
    }
    const scale = f.scale === undefined ? 1 : asNumber(f.scale, '');
    const offset = f.offset === undefined ? 0 : asNumber(f.offset, '');
    if (scale !== 1 || offset !== 0 || f.decimals !== undefined) {
      const d = f.decimals ?? Math.max(0, Math.min(15, Math.ceil(-Math.log10(Math.abs(scale) || 1)) + 6));
      const div = this.exactDivisor(f, kind, scale, offset, Number(d));
      if (div !== undefined) {
        // + 0: a signed BCD zero reads as -0, and the rounding path's `+ offset` turns it into 0.
        const z = kind === 'bcd' && f.signed === true ? ' + 0' : '';
        this.emit(div === 1 ? (z ? `${v} = ${v} + 0;` : '') : `${v} = ${v} / ${div}${z};`);
      } else
        this.emit(
          // roundTo(x, d) = Math.round(x * 10 ** d) / 10 ** d, with the power folded at compile time.
          `if (typeof ${v} === 'number') ${v} = Math.round((${v} * ${this.num(scale)} + ${this.num(offset)}) * ${this.num(10 ** Number(d))}) / ${this.num(10 ** Number(d))};`,
        );
    }
    if (f.enum !== undefined) {
      const table = new Map<string, unknown>();
      for (const [key, lab] of Object.entries(asObject(f.enum, ''))) {
        table.set(key, lab);
        if (!table.has(normalizeKey(key))) table.set(normalizeKey(key), lab);
      }
      const byNum = new Map<number, unknown>();
      for (const [key, lab] of table)
        if (String(Number(key)) === key && !byNum.has(Number(key))) byNum.set(Number(key), lab);
      const keys = [...byNum.keys()];
      if (keys.length > 0 && keys.every((n) => Number.isInteger(n) && n >= 0 && n <= 1023)) {
        // Small integer keys: a packed array indexed by the value (a non-index number reads undefined).
        const arr: unknown[] = Array.from({ length: Math.max(...keys) + 1 }, () => undefined);
        for (const [n, lab] of byNum) arr[n] = typeof lab === 'string' ? internalize(lab) : lab;
        const x = this.tmp();
        this.emit(
          `if (typeof ${v} === 'number') { if ((${x} = ${this.k(Object.freeze(arr))}[${v}]) !== undefined) ${v} = ${x}; } else ${v} = H.enumOf(${this.k(byNum)}, ${this.k(table)}, ${v});`,
        );
      } else this.emit(`${v} = H.enumOf(${this.k(byNum)}, ${this.k(table)}, ${v});`);
    }
    if (f.format === 'hex' && kind !== 'bytes' && kind !== 'bcd') {
      const width = (parseNumType(kind, undefined, undefined, '')?.size ?? 1) * 2;
      this.emit(`${v} = H.hexFmt(${v}, ${width});`);
    }
    if (f.point !== undefined && f.point !== false) {
      const name = f.name as string | undefined;
      const pname =
        f.point === true
          ? f.repeat === undefined
            ? this.k(name ?? 'value')
            : `${this.k(`${name}[`)} + ${loc.index ?? 's.index'} + ${this.k(']')}`
          : this.template(f.point as string, gs, { ...loc, value: v });
      const unit =
        f.unit === undefined ? '' : `, unit: ${this.template(f.unit as string, gs, { ...loc, value: v })}`;
      this.mayHavePoints = true;
      this.emit(
        `if (typeof ${v} === 'number' || typeof ${v} === 'string' || typeof ${v} === 'boolean') { s.value = ${v}; if (pts === W.noPoints) pts = [{ name: ${pname}, value: ${v}${unit} }]; else pts.push({ name: ${pname}, value: ${v}${unit} }); }`,
      );
    }
    return v;
  }

  /**
   * D when `roundTo(raw * scale + offset, d)` equals `raw / D` for every raw value the field can read
   * (an integer: an inline integer read or a numeric BCD), so the generated code divides, as a
   * hand-written decoder does. Holds when offset = 0, scale is the double nearest 1/D, D divides 10^d
   * and m = |raw| · 10^d / D < 2^50: then raw · scale · 10^d is within 3 · 2^-53 · m < 0.5 of the
   * integer m, so Math.round gives m exactly, and m / 10^d and raw / D are both the correctly rounded
   * value of the same real number. (D = 1: rounding an integer to d decimals returns it.) A -0 raw
   * value (signed BCD) becomes 0 on the rounding path, through `+ offset`: the caller adds 0 too.
   */
  exactDivisor(f: Obj, kind: string, scale: number, offset: number, d: number): number | undefined {
    if (offset !== 0 || !Number.isInteger(d) || d < 0 || d > 15 || f.enum !== undefined) return undefined;
    let maxAbs: number;
    const num = parseNumType(kind, (f.endian as string | undefined) ?? this.cx.endian, f.words, '');
    if (num) {
      if (num.kind !== 'int' || num.size > 4) return undefined; // the reads inlined by body()
      maxAbs = 2 ** (8 * num.size);
    } else if (kind === 'bcd' && f.format !== 'string') maxAbs = 10 ** (2 * asNumber(f.size, ''));
    else return undefined;
    const D = Math.round(1 / scale);
    if (!(D >= 1 && 1 / D === scale && 10 ** d % D === 0 && maxAbs * (10 ** d / D) < 2 ** 50))
      return undefined;
    return D;
  }
}
