// The container fields: a struct (a level of its own, optionally of a fixed size), a switch (case
// keys through K, a jump table when they are integers) and a transform (bytes decoded, then read).
import { compileByteOps } from './containers.ts';
import { Unsupported, type GScope, type Loc } from './codegen-expr.ts';
import { FieldGen } from './codegen-fields.ts';
import { asObject, normalizeKey, type Obj } from './spec.ts';

/** Transformed regions up to this many bytes are written into a per-site scratch array (transform()). */
const TRANSFORM_SCRATCH = 256;

export abstract class ContainerGen extends FieldGen {
  struct(f: Obj, gs: GScope, loc: Loc, path: string, merge: boolean, label: string): string {
    if (f.size === undefined) {
      const inner = this.scoped(gs, merge, true);
      this.seq(f.seq, inner.gs, loc, `${path}.seq`);
      this.flush();
      return inner.v;
    }
    const n = this.size(f.size, label, gs, loc);
    const inner = this.scoped(gs, merge, true);
    this.ranged(n, loc, (l) => {
      this.seq(f.seq, inner.gs, l, `${path}.seq`);
      this.flush();
    });
    return inner.v;
  }

  switch(f: Obj, gs: GScope, loc: Loc, path: string, merge: boolean, label: string): string {
    const key = this.t('k');
    this.emit(`const ${key} = ${this.exprOf(f.on, gs, loc)};`);
    const inner = this.scoped(gs, merge);
    // Case keys live in a Map (contract strings never enter the source). The closure plan's lookup:
    // a number by value (byNum), anything else by its text (table: the key, then its normal form).
    const table = new Map<string, number>();
    const byNum = new Map<number, number>();
    const entries = Object.entries(asObject(f.cases, `${path}.cases`));
    entries.forEach(([k], i) => {
      table.set(k, i);
      if (!table.has(normalizeKey(k))) table.set(normalizeKey(k), i);
      const asNum = Number(normalizeKey(k));
      if (String(asNum) === normalizeKey(k) && !byNum.has(asNum)) byNum.set(asNum, i);
    });
    // Integer keys (and text keys that are not numbers at all): switch on a number's value itself, a
    // jump table with the numbers emitted by the compiler; text is mapped first to its case's integer,
    // or to a token object standing for a text key, which no number equals. The same case as the Map.
    const ints = entries.map(([k]) => Number(normalizeKey(k)));
    const isInt = (i: number) => String(ints[i]) === normalizeKey(entries[i]![0]);
    const direct =
      entries.every((_, i) => (isInt(i) ? Number.isSafeInteger(ints[i]) : Number.isNaN(ints[i]))) &&
      new Set(ints.filter((_, i) => isInt(i))).size === ints.filter((_, i) => isInt(i)).length;
    const tokens = entries.map((_, i) => (isInt(i) ? ints[i]! : Object.freeze({ case: i })));
    const caseLabel = direct ? tokens.map((t) => (typeof t === 'number' ? this.num(t) : this.k(t))) : [];
    if (direct) {
      const toCase = new Map<string, unknown>();
      for (const [text, i] of table) toCase.set(text, tokens[i]);
      this.emit(`switch (typeof ${key} === 'number' ? ${key} : H.intKey(${this.k(toCase)}, ${key})) {`);
    } else this.emit(`switch (H.caseOf(${this.k(byNum)}, ${this.k(table)}, ${key})) {`);
    // Still pending here only when literalPerCase() held: each case ends by building the object.
    const pending = gs === this.pendingGs && this.pending !== null ? [...this.pending] : null;
    const caseBody = (body: unknown, p: string) => {
      const m = this.mark();
      this.emit('{');
      if (body !== null) {
        if (Array.isArray(body)) this.seq(body, inner.gs, loc, p);
        else this.field(body, inner.gs, loc, p);
      }
      if (pending !== null) {
        this.flush();
        [this.pending, this.pendingGs] = [[...pending], gs];
      }
      this.emit('break; }');
      this.leave(m);
    };
    entries.forEach(([k, body], i) => {
      this.emit(`case ${direct ? caseLabel[i] : i}:`);
      caseBody(body, `${path}.cases.${k}`);
    });
    this.emit('default:');
    if (f.default === undefined)
      this.emit(`H.fail(s, p, 'invalid', ${this.k(`no case of '${label}' for `)} + ${key});`);
    else caseBody(f.default, `${path}.default`);
    this.emit('}');
    // Every case that does not fail has built the object.
    if (pending !== null) [this.pending, this.pendingGs] = [null, null];
    return inner.v;
  }

  transform(f: Obj, gs: GScope, loc: Loc, path: string, merge: boolean, label: string): string {
    if (loc.buf !== 'b') throw new Unsupported('nested transform');
    compileByteOps(f.ops, `${path}.ops`, false); // validates
    const n = this.size(f.size, label, gs, loc);
    const inner = this.scoped(gs, merge, true); // declared outside the block below: it is the field's value
    const [start, tb] = [this.t('st'), 'tb'];
    // Per-byte add/sub/xor become one expression; they do not depend on position, so any reverses
    // can be applied after them (an odd number of reverses = one).
    let byte = `b[${start} + i]`;
    let reverses = 0;
    for (const op of f.ops as Record<string, number | boolean>[]) {
      if (op.reverse !== undefined) reverses++;
      else if (op.xor !== undefined) byte = `(${byte} ^ ${this.num(op.xor)})`;
      else if (op.add !== undefined) byte = `((${byte} + ${this.num(op.add)}) & 255)`;
      else byte = `((${byte} + ${this.num(256 - Number(op.sub))}) & 255)`;
    }
    const m = this.mark();
    // Into this site's own scratch array when it fits: decoding is synchronous and every value read from
    // the transformed bytes is a number or a string, so nothing keeps the array (a new one per frame was
    // a sizeable share of a DL/T 645 frame's garbage). Reads stop at the transformed length (s.stop).
    const scratch = this.k(new Uint8Array(TRANSFORM_SCRATCH));
    this.emit(
      `{ const ${start} = p; const ${tb} = ${n} <= ${TRANSFORM_SCRATCH} ? ${scratch} : new Uint8Array(${n});`,
    );
    const at = reverses % 2 ? `${n} - 1 - i` : 'i';
    this.emit(`for (let i = 0; i < ${n}; i++) ${tb}[${at}] = ${byte};`);
    this.emit('const sBase = s.base, sStop = s.stop, sShift = s.shift;');
    this.emit(`s.buf = ${tb}; s.base = 0; s.stop = ${n}; s.shift += ${start}; p = 0;`);
    const e = this.t('e');
    this.emit(`const ${e} = ${n};`);
    this.seq(f.seq, inner.gs, { buf: tb, end: e }, `${path}.seq`);
    this.flush();
    this.emit(`s.buf = b; s.base = sBase; s.stop = sStop; s.shift = sShift; p = ${start} + ${n}; }`);
    this.leave(m);
    return inner.v;
  }
}
