// A sequence of fields: each field's dispatch (native code, or a call of the closure compiler's op for
// what the generator does not handle), its `if`, its `repeat`, and the pending object literal that
// builds a structure level's object in one allocation.
import { Unsupported, type GScope, type Loc } from './codegen-expr.ts';
import { ValueGen } from './codegen-values.ts';
import { CONTAINERS, MAX_REPEAT, compileField, expandType, kindOf, type Cx } from './layout.ts';
import { parseNumType } from './primitives.ts';
import { asArray, asObject, type Obj } from './spec.ts';

/** Whether a field spec (or a types table) declares a `point` anywhere inside it. */
function hasPointKey(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasPointKey);
  if (v === null || typeof v !== 'object') return false;
  return Object.entries(v).some(([k, x]) => (k === 'point' && x !== false) || hasPointKey(x));
}

// Field kinds whose element reads only bytes, locals and the context: no scope object is touched.
const SIMPLE = new Set(['value', 'skip', 'bytes', 'bcd', 'flags']);

export abstract class FieldGen extends ValueGen {
  /**
   * The fields of a structure level (the top level, a struct, a transform) that come before anything
   * that reads or writes its object are built as one object literal (one allocation with its final
   * shape, like a hand-written decoder) when the first such construct comes, or at the end of the
   * level: [name, local] in field order. Only the innermost level can be pending (a container field is
   * never simple, so its level is flushed before it opens). null once the object exists.
   */
  protected pending: [string, string][] | null = null;
  protected pendingGs: GScope | null = null;
  protected top: GScope | null = null;

  override scopeReady(g: GScope): boolean {
    return g !== this.pendingGs || this.pending === null;
  }

  /** Creates the pending level's object from its fields (same keys, order and values as assigning them). */
  flush(): void {
    if (this.pending === null || this.pendingGs === null) return;
    // Always emitted in the straight-line code of its level, so it runs whenever the level completes.
    const lit = `{ ${this.pending.map(([n, v]) => `${this.ident(n)}: ${v}`).join(', ')} }`;
    if (this.pendingGs === this.top) this.emit(`o0 = ${lit};`);
    else this.emit(`${this.pendingGs.js} = ${lit};`);
    this.pending = null;
    this.pendingGs = null;
  }

  truncCheck(n: string, label: string, loc: Loc): void {
    this.emit(
      `if (p + ${n} > ${loc.end}) H.fail(s, p, 'truncated', ${this.k(`need ${n} bytes for '${label}'`)});`,
    );
  }

  /** size: number | 'rest' | expression → a local holding the byte count (checked against the range). */
  size(v: unknown, label: string, gs: GScope, loc: Loc): string {
    const t = this.t('n');
    if (v === undefined || v === 'rest') {
      this.emit(`const ${t} = ${loc.end} - p;`);
      return t;
    }
    this.emit(`const ${t} = ${typeof v === 'number' ? this.num(v) : `+${this.exprOf(v, gs, loc)}`};`);
    this.emit(
      `if (!Number.isInteger(${t}) || ${t} < 0) H.fail(s, p, 'invalid', ${this.k(`size of '${label}' is `)} + ${t});`,
    );
    this.emit(
      `if (p + ${t} > ${loc.end}) H.fail(s, p, 'truncated', ${this.k(`need `)} + ${t} + ${this.k(` bytes for '${label}'`)});`,
    );
    return t;
  }

  seq(list: unknown, gs: GScope, loc: Loc, path: string): void {
    asArray(list, path).forEach((f, i) => this.field(f, gs, loc, `${path}[${i}]`));
  }

  /** A field that is only read into a local (it can wait in a pending object literal). */
  simple(f: Obj, kind: string, path: string): boolean {
    return (
      !(kind === 'bytes' && f.format === 'array') &&
      f.if === undefined &&
      f.name !== '__proto__' &&
      (SIMPLE.has(kind) || parseNumType(kind, undefined, f.words, path) !== undefined)
    );
  }

  /**
   * An unnamed switch whose every case (and default) holds only simple fields: each case can build the
   * level's object itself, pending fields and its own in one literal, as a hand-written decoder builds
   * a Cayenne LPP item, instead of creating it before the switch and adding the case's fields to it.
   */
  literalPerCase(f: Obj, kind: string, merge: boolean, path: string): boolean {
    if (kind !== 'switch' || !merge || f.if !== undefined) return false;
    const bodies = Object.values(asObject(f.cases, `${path}.cases`));
    if (f.default !== undefined) bodies.push(f.default);
    return bodies.every((body) =>
      (body === null ? [] : Array.isArray(body) ? body : [body]).every((spec, i) => {
        const at = `${path}.cases[${i}]`;
        const { f: c } = expandType(asObject(spec, at), at, this.cx);
        return this.simple(c, kindOf(c, at), at);
      }),
    );
  }

  field(spec: unknown, gs: GScope, loc: Loc, path: string): void {
    const { f, cx } = expandType(asObject(spec, path), path, this.cx);
    const kind = kindOf(f, path);
    const name = f.name as string | undefined;
    const merge = name === undefined && CONTAINERS.has(kind);
    const native =
      ['value', 'skip', 'bytes', 'bcd', 'flags', 'struct', 'switch', 'transform'].includes(kind) ||
      parseNumType(kind, undefined, f.words, path);
    const fallback = !native || (kind === 'bytes' && f.format === 'array');
    if (gs === this.pendingGs && this.pending !== null) {
      const simple = !fallback && !merge && this.simple(f, kind, path);
      // What follows may read or write the level's object: it must exist first.
      if (!simple && !this.literalPerCase(f, kind, merge, path)) this.flush();
    }
    if (fallback) {
      this.fallback(spec, gs, loc, path, cx);
      return;
    }
    const cond = f.if === undefined ? undefined : this.exprOf(f.if, gs, loc);
    const m = this.mark();
    if (cond) this.emit(`if (${cond}) {`);
    if (merge) this.body(f, kind, gs, loc, path, true);
    else {
      const ty = f.repeat === undefined ? this.typeOf(f, kind, gs, path) : undefined;
      const v =
        f.repeat !== undefined ? this.repeat(f, kind, gs, loc, path) : this.element(f, kind, gs, loc, path);
      if (name !== undefined && gs === this.pendingGs && this.pending !== null) {
        this.pending.push([name, v]);
        this.setLocal(gs, name, v, ty);
      } else if (name !== undefined) {
        this.emit(`${gs.js}.${this.ident(name)} = ${v};`);
        // Later references read the local (and skip conversions when it is a number).
        this.setLocal(gs, name, v, ty);
      }
    }
    if (cond) {
      this.emit('}');
      this.leave(m);
    }
    if (name !== undefined) gs.cs.names.add(name);
  }

  fallback(spec: unknown, gs: GScope, loc: Loc, path: string, cx: Cx): void {
    // The closure op writes into this level's object exactly the names it declares at this level
    // (its own, or those of an unnamed container it merges): record them to forget their locals.
    const names = gs.cs.names;
    const written = new Set<string>();
    const add = names.add.bind(names);
    names.add = (n: string) => (written.add(n), add(n));
    let op;
    try {
      op = compileField(spec, path, cx, gs.cs);
    } finally {
      delete (names as { add?: unknown }).add;
    }
    if (loc.buf !== 'b') throw new Unsupported('fallback inside a transform');
    // The closure may push points into s.points: give it the frame's real array (see W.noPoints).
    if (hasPointKey(spec) || hasPointKey(cx.types)) this.mayHavePoints = true;
    this.emit(
      `if (pts === W.noPoints) pts = []; s.points = pts; s.pos = p; s.end = ${loc.end}; s.sc = ${this.chain(gs)}; ${this.f(op)}(s); p = s.pos;`,
    );
    for (const n of written) this.forget(gs, n);
  }

  repeat(f: Obj, kind: string, gs: GScope, loc: Loc, path: string): string {
    const arr = this.t('a');
    const saved = this.t('i');
    const first = this.out.length;
    this.emit(`const ${saved} = s.index;`);
    const m = this.mark();
    let head: number;
    let bare: string; // the loop head without the s.index update
    if (f.repeat === 'until-end') {
      const at = this.t('at');
      this.emit(`const ${arr} = [];`);
      head = this.out.length;
      bare = `while (p < ${loc.end}) { const ${at} = p;`;
      this.emit(`${bare} s.index = ${arr}.length;`);
      const v = this.element(f, kind, gs, loc, path);
      this.emit(`${arr}.push(${v});`);
      this.emit(
        `if (p === ${at}) H.fail(s, ${at}, 'invalid', ${this.k('repeated element consumed no bytes')}); }`,
      );
    } else {
      const c = this.t('c');
      this.emit(`const ${c} = +${this.exprOf(f.repeat, gs, loc)};`);
      // (c | 0) === c is Number.isInteger within the range checked first, and cheaper.
      this.emit(
        `if (!(${c} >= 0 && ${c} <= ${MAX_REPEAT} && (${c} | 0) === ${c})) H.fail(s, p, 'invalid', ${this.k('repeat count ')} + ${c} + ${this.k(' out of range')});`,
      );
      // Sized up front (every slot is written before the array is used; a failure discards it), within
      // a bound so a bad count in a short frame allocates little.
      this.emit(`const ${arr} = ${c} <= 1024 ? new Array(${c}) : [];`);
      const i = this.t('j');
      head = this.out.length;
      bare = `for (let ${i} = 0; ${i} < ${c}; ${i}++) {`;
      this.emit(`${bare} s.index = ${i};`);
      const v = this.element(f, kind, gs, { ...loc, index: i }, path);
      this.emit(`${arr}[${i}] = ${v}; }`);
    }
    this.leave(m);
    // $index is a local in generated code; only closure ops (called with s) read s.index.
    if (this.out.slice(head + 1).some((l) => /F\[\d+\]\(s\)|s\.index/.test(l)))
      this.emit(`s.index = ${saved};`);
    else {
      this.out[head] = bare;
      this.out.splice(first, 1);
    }
    return arr;
  }

  /** Runs `inner` over a sub-range of `n` bytes, then moves past it. */
  ranged(n: string, loc: Loc, inner: (loc: Loc) => void): void {
    const e = this.t('e');
    const m = this.mark();
    this.emit(`{ const ${e} = p + ${n};`);
    inner({ ...loc, end: e });
    this.emit(`p = ${e}; }`);
    this.leave(m);
  }

  /** A new structure level; `deferred`: its object is built by flush() at the end of its straight-line seq. */
  scoped(gs: GScope, merge: boolean, deferred = false): { gs: GScope; v: string } {
    if (merge) return { gs, v: 'undefined' };
    const o = this.t('o');
    const inner: GScope = { cs: { names: new Set(), up: gs.cs }, js: o, up: gs };
    this.flush(); // (already done: the container field that opens this level is not simple)
    if (deferred) {
      this.emit(`let ${o};`);
      this.pending = [];
      this.pendingGs = inner;
    } else this.emit(`const ${o} = {};`);
    return { gs: inner, v: o };
  }
}
