// Assembles a compiled contract: framing + layout + points + encoders + inline tests.
import { ContractError, DecodeFailure, DecodeReason } from './errors.ts';
import { compileExpr, compileTemplate } from './expr.ts';
import { Gen } from './codegen.ts';
import { compileEncoder, type Encoder } from './encode.ts';
import { compileFraming, type Framing } from './framing.ts';
import { CONTAINER_COMPILERS } from './containers.ts';
import { compileSeq, resolverFor, type CScope, type Op } from './layout.ts';
import { NeedBytes, newState, type Getter, type Scope, type State } from './runtime.ts';
import { asArray, asIdent, asObject, asString, checkKeys, type Obj } from './spec.ts';
import { checkTestsShape, runContractTests } from './tests.ts';
import type { Contract, ContractTestReport, DecodeResult, Point, SplitResult } from './types.ts';

const TOP_KEYS = new Set([
  'id',
  'version',
  'name',
  'description',
  'endian',
  'context',
  'framing',
  'checksums',
  'types',
  'seq',
  'points',
  'encode',
  'tests',
  'trailing',
]);
const POINT_KEYS = new Set(['name', 'value', 'unit', 'if', 'each']);
const EMPTY_CTX: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

type PointOp = (s: State) => void;

export class CompiledContract implements Contract {
  readonly id: string;
  readonly version: string;
  readonly name?: string;
  readonly description?: string;
  readonly messages: readonly string[];
  private readonly framing: Framing;
  private readonly body: Op;
  /** Whether decode is the generated entry (body + points), when the generator handles every construct. */
  private readonly generated: boolean;
  /** The generated source, for tests that check what the generator emitted. */
  private readonly source: string | undefined;
  private readonly pointOps: PointOp[];
  private readonly encoders: Map<string, Encoder>;
  private readonly ctxDefaults: Record<string, unknown> | undefined;
  private readonly ctxDefaultKeys: string[];
  private readonly trailing: boolean;
  private readonly testSpec: unknown;
  private readonly state: State = newState(new Uint8Array(0), EMPTY_CTX);
  private readonly top: Scope = { o: {}, up: null };

  constructor(doc: Obj, options: { generate?: boolean } = {}) {
    checkKeys(doc, TOP_KEYS, '');
    this.id = asString(doc.id, 'id');
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(this.id))
      throw new ContractError('id', 'use letters, digits, ., _ and -');
    this.version = doc.version === undefined ? '1.0.0' : String(doc.version);
    if (doc.name !== undefined) this.name = asString(doc.name, 'name');
    if (doc.description !== undefined) this.description = asString(doc.description, 'description');
    const endian = doc.endian ?? 'big';
    if (endian !== 'big' && endian !== 'little')
      throw new ContractError('endian', "expected 'big' or 'little'");
    this.ctxDefaults = compileContextDefaults(doc.context);
    this.ctxDefaultKeys = Object.keys(this.ctxDefaults ?? {});
    this.trailing = doc.trailing === 'allow';
    this.framing = compileFraming(doc.framing, doc.checksums, endian);
    const types = doc.types === undefined ? {} : asObject(doc.types, 'types');
    for (const k of Object.keys(types)) asIdent(k, `types.${k}`);
    const top: CScope = { names: new Set(), up: null };
    this.body = compileSeq(
      doc.seq ?? [],
      'seq',
      { types, endian, depth: 0, containers: CONTAINER_COMPILERS },
      top,
    );
    const points = doc.points === undefined ? [] : asArray(doc.points, 'points');
    this.pointOps = points.map((p, i) => compilePoint(p, `points[${i}]`, top));
    // The closure plan above validated everything; the generator only re-walks a valid document.
    const entry =
      options.generate === false
        ? undefined
        : new Gen({ types, endian, depth: 0, containers: CONTAINER_COMPILERS }).build(
            doc.seq ?? [],
            points,
            this.trailing,
            this.framing,
            this.ctxDefaultKeys,
          );
    this.generated = entry !== undefined;
    this.source = entry?.source;
    // The generated entry replaces the shared `decode` method on this instance (see Gen.build).
    if (entry) this.decode = entry.entry(this.state, this.top, this.ctxDefaults, EMPTY_CTX);
    this.encoders = new Map();
    const sizes = new Map(this.framing.checksums.map((c) => [c.name, c.alg.size]));
    for (const [msg, spec] of Object.entries(
      doc.encode === undefined ? {} : asObject(doc.encode, 'encode'),
    )) {
      this.encoders.set(
        msg,
        compileEncoder(spec, `encode.${msg}`, {
          endian,
          checksumSizes: sizes,
          prefix: this.framing.prefixEmit,
          finish: this.framing.finish,
        }),
      );
    }
    this.messages = Object.freeze([...this.encoders.keys()]);
    checkTestsShape(doc.tests);
    this.testSpec = doc.tests;
    Object.freeze(this);
  }

  /** The closure plan's decode; a generated contract has its own entry in place of this method. */
  decode(frame: Uint8Array, context?: Record<string, unknown>): DecodeResult {
    if (!(frame instanceof Uint8Array))
      return { ok: false, error: { offset: 0, reason: `${DecodeReason.invalid}: the frame is not bytes` } };
    // One state object per contract, reset for each frame: decode is synchronous and runs no user code,
    // so it cannot be re-entered, and the per-frame allocation shows in the profile of small frames.
    const s = this.state;
    s.buf = frame;
    s.base = 0;
    s.stop = frame.length;
    s.pos = 0;
    s.end = frame.length;
    s.shift = 0;
    this.top.o = {};
    s.sc = this.top;
    s.ctx = this.context(context);
    s.index = 0;
    s.item = undefined;
    s.value = undefined;
    s.points = [];
    try {
      this.framing.check(s);
      this.body(s);
      if (s.pos < s.end && !this.trailing)
        return {
          ok: false,
          error: {
            offset: s.pos,
            reason: `${DecodeReason.length}: ${s.end - s.pos} bytes not described by the contract`,
          },
        };
      s.sc = { o: this.top.o, up: null };
      for (const p of this.pointOps) p(s);
      return { ok: true, fields: this.top.o, points: s.points };
    } catch (e) {
      if (e instanceof DecodeFailure) return { ok: false, error: { offset: e.offset, reason: e.reason } };
      if (e instanceof NeedBytes)
        return {
          ok: false,
          error: {
            offset: s.stop,
            reason: `${DecodeReason.truncated}: byte(${e.total - 1}) is past the end of the frame`,
          },
        };
      // Anything else is a bug in the contract or compiler; still never thrown out of decode.
      return {
        ok: false,
        error: { offset: s.pos, reason: `${DecodeReason.invalid}: ${(e as Error)?.message ?? String(e)}` },
      };
    }
  }

  /** Context with the contract's defaults; copies only when the caller left a defaulted key out. */
  private context(given: Record<string, unknown> | undefined): Record<string, unknown> {
    const d = this.ctxDefaults;
    if (!d) return given ?? EMPTY_CTX;
    if (!given) return d;
    const keys = this.ctxDefaultKeys;
    for (let i = 0; i < keys.length; i++) if (given[keys[i]!] === undefined) return { ...d, ...given };
    return given;
  }

  encode(message: string, params: Record<string, unknown>): Uint8Array {
    const enc = this.encoders.get(message);
    if (!enc)
      throw new ContractError(
        `encode.${message}`,
        `contract '${this.id}' has no message '${message}' (has: ${this.messages.join(', ') || 'none'})`,
      );
    return enc.build(params ?? {});
  }

  /** True when decode runs generated code rather than the closure plan. */
  get isGenerated(): boolean {
    return this.generated;
  }

  /** Parameters of a message, for CLI help and UIs. */
  messageParams(message: string): readonly { name: string; type: string; default?: unknown }[] {
    return this.encoders.get(message)?.params ?? [];
  }

  detect(frame: Uint8Array): boolean {
    return this.decode(frame).ok;
  }

  split(stream: Uint8Array): SplitResult {
    try {
      return this.framing.split(stream);
    } catch {
      return { skip: 1 };
    }
  }

  runTests(): ContractTestReport {
    return runContractTests(this, this.testSpec);
  }
}

function compileContextDefaults(spec: unknown): Record<string, unknown> | undefined {
  if (spec === undefined) return undefined;
  const out: Record<string, unknown> = {};
  let any = false;
  for (const [k, v] of Object.entries(asObject(spec, 'context'))) {
    asIdent(k, `context.${k}`);
    const o = v === null ? {} : asObject(v, `context.${k}`);
    checkKeys(o, new Set(['default', 'description']), `context.${k}`);
    if (o.default !== undefined) {
      out[k] = o.default;
      any = true;
    }
  }
  return any ? Object.freeze(out) : undefined;
}

function compilePoint(spec: unknown, path: string, top: CScope): PointOp {
  const o = asObject(spec, path);
  checkKeys(o, POINT_KEYS, path);
  const resolve = resolverFor(top);
  const name = compileTemplate(asString(o.name, `${path}.name`), `${path}.name`, resolve);
  const value = compileExpr(o.value, `${path}.value`, resolve);
  const unit: Getter | undefined =
    o.unit === undefined
      ? undefined
      : compileTemplate(asString(o.unit, `${path}.unit`), `${path}.unit`, resolve);
  const cond = o.if === undefined ? undefined : compileExpr(o.if, `${path}.if`, resolve);
  const one = (s: State): void => {
    if (cond && !cond(s)) return;
    const v = value(s);
    if (typeof v !== 'number' && typeof v !== 'string' && typeof v !== 'boolean') return;
    const p: Point = { name: String(name(s)), value: v };
    if (unit) p.unit = String(unit(s));
    s.points.push(p);
  };
  if (o.each === undefined) return one;
  const each = compileExpr(o.each, `${path}.each`, resolve);
  return (s) => {
    const items = each(s);
    if (!Array.isArray(items)) return;
    for (let i = 0; i < items.length; i++) {
      s.index = i;
      s.item = items[i];
      one(s);
    }
  };
}
