// Generates one JavaScript decode function per contract, for speed. Safety rule: no string from the
// contract reaches the generated source. Field names are re-checked against the identifier pattern
// at emission; numbers are emitted with String(number); every other string (labels, units, messages,
// case keys) and every helper is passed in the K (constants) and F (functions) arrays and referenced
// by index. Anything the generator does not handle is compiled by the closure compiler and called.
//
// The generator is built in layers, one job each, from the bottom: codegen-expr.ts (expressions,
// locals, K and F), codegen-values.ts (a value's checks, scaling, enum, point), codegen-fields.ts
// (a sequence of fields), codegen-containers.ts (struct, switch, transform), codegen-body.ts (the raw
// reads); codegen-framing.ts emits the frame checks and codegen-entry.ts the entry around it all.
// This file adds the points rules and assembles the function.
import { BodyGen } from './codegen-body.ts';
import { emitFraming } from './codegen-framing.ts';
import { entry, W, type EntryFactory } from './codegen-entry.ts';
import { H, Unsupported, type GScope, type Loc } from './codegen-expr.ts';
import type { Framing } from './framing.ts';
import type { Obj } from './spec.ts';

export type { EntryFactory } from './codegen-entry.ts';

/** Longest points list allocated at its full length up front (a longer one grows as it is filled). */
const MAX_PRESIZE = 1024;

export class Gen extends BodyGen {
  /** K references (`K[i]`) of the context keys that have defaults. */
  private ctxKeys: string[] = [];

  point(spec: unknown, gs: GScope): void {
    const o = spec as Obj;
    const loc = { buf: 'b', end: 'E' };
    const body = (loc: Loc, q?: string) => {
      const v = this.t('v');
      this.emit(`const ${v} = ${this.exprOf(o.value, gs, loc)};`);
      const unit = o.unit === undefined ? '' : `, unit: ${this.template(o.unit as string, gs, loc)}`;
      const point = `{ name: ${this.template(o.name as string, gs, loc)}, value: ${v}${unit} }`;
      this.emit(
        `if (typeof ${v} === 'number' || typeof ${v} === 'string' || typeof ${v} === 'boolean') ${q === undefined ? `{ if (pts === W.noPoints) pts = [${point}]; else pts.push(${point}); }` : `pts[${q}++] = ${point}`};`,
      );
    };
    const cond = o.if === undefined ? undefined : this.exprOf(o.if, gs, loc);
    if (cond) this.emit(`if (${cond}) {`);
    if (o.each === undefined) body(loc);
    else {
      const [list, i] = [this.t('l'), this.t('j')];
      const q = this.t('q');
      this.emit(`const ${list} = ${this.exprOf(o.each, gs, loc)};`);
      // The first rule that makes points fills an array of the list's length (as a hand-written decoder
      // would) instead of growing one; a later rule appends at the end. Trimmed when some item was not
      // a scalar. The array is new for each frame (see W.noPoints).
      if (this.mayHavePoints) {
        this.emit(`if (Array.isArray(${list})) { let ${q} = pts.length;`);
        this.emit(
          `if (${q} === 0 && ${list}.length > 0 && ${list}.length <= ${MAX_PRESIZE}) pts = new Array(${list}.length); else if (pts === W.noPoints) pts = [];`,
        );
      } else {
        this.emit(`if (Array.isArray(${list})) { let ${q} = 0;`);
        this.emit(`pts = ${list}.length <= ${MAX_PRESIZE} ? new Array(${list}.length) : [];`);
      }
      // Names of the form `field + '.' + (… $index)` look up their cache row once, before the loop.
      const at = this.out.length;
      this.hoist = [];
      try {
        this.emit(`for (let ${i} = 0; ${i} < ${list}.length; ${i}++) { const ${i}v = ${list}[${i}];`);
        body({ ...loc, index: i, item: `${i}v` }, q);
      } finally {
        this.out.splice(at, 0, ...this.hoist);
        this.hoist = null;
      }
      this.emit(`} if (${q} < pts.length) pts.length = ${q}; }`);
    }
    if (cond) this.emit('}');
    this.mayHavePoints = true;
  }

  /** The body emitted so far, with its prologue (context and scratch variables); starts a new body. */
  private take(): string {
    const temps = [...Array(this.temps).keys()].map((i) => `x${i}`);
    const reads = [...this.ctxReads].map(
      ([key, local]) =>
        ` const ${local} = ctx !== null && typeof ctx === 'object' ? ctx.${this.ident(key)} : H.member(ctx, ${this.k(key)});`,
    );
    this.ctxReads.clear();
    const prologue = `const ctx = s.ctx;${reads.join('')} let pts = W.noPoints;${temps.length ? ` let ${temps.join(', ')};` : ''}`;
    const body = `${prologue}\n${this.out.join('\n')}`;
    this.out.length = 0;
    this.temps = 0;
    return body;
  }

  /**
   * The contract's whole decode entry (state reset, context defaults, `try`, result objects) is
   * generated per contract, so no call site on the hot path is shared by all contracts: shared code
   * collects every contract's feedback and is optimised less well for each. `ctxKeys` are the context
   * keys with defaults (validated identifiers, referenced through K by index like any other string).
   */
  build(
    seq: unknown,
    points: unknown[],
    trailing: boolean,
    fr: Framing,
    ctxKeys: readonly string[] = [],
  ): { source: string; entry: EntryFactory } | undefined {
    this.ctxKeys = ctxKeys.map((k) => this.k(k));
    try {
      const top: GScope = { cs: { names: new Set(), up: null }, js: 'o0', up: null };
      emitFraming(this, fr);
      this.emit('let o0; let p = base; const E = stop;');
      this.top = top;
      this.pendingGs = top;
      this.pending = [];
      this.seq(seq, top, { buf: 'b', end: 'E' }, 'seq');
      this.flush();
      this.emit('s.pos = p;');
      if (!trailing) this.emit('if (p < E) return undefined; // the entry reports the undescribed bytes');
      for (const p of points) this.point(p, top);
      // The result is made here, from locals: storing this frame's new objects into the long-lived
      // state (s.points, a scope's o) costs a write barrier each, which shows on small frames.
      this.emit(`return { ok: true, fields: o0, points: pts === W.noPoints ? [] : pts };`);
      let decode = this.take();
      // s.value mirrors the closure plan for a $value read outside a check or point; none: drop the stores.
      if (!this.readsValue) decode = decode.replace(/ s\.value = v\d+;/g, '');
      // The source is assembled only from compiler-emitted tokens, numbers and K/F indexes (see top of file).
      const source = `"use strict";\nconst decode = function decode(s) {\n${decode}\n};\n${entry(trailing, this.ctxKeys)}`;
      const factory = new Function('K', 'F', 'H', 'W', source);
      return { source, entry: factory(this.K, this.F, H, W) as EntryFactory };
    } catch (err) {
      if (err instanceof Unsupported) return undefined;
      throw err;
    }
  }
}
