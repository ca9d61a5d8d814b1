// A small side-effect-free expression language for sizes, conditions, derived values and point names.
// Hand-written lexer and Pratt parser compiled to closures; contract strings are never evaluated as code.
import { ContractError } from './errors.ts';
import { NeedBytes, type Getter, type State } from './runtime.ts';

/** Turns a bare identifier into a getter, or undefined when no such field is defined at that point. */
export type NameResolver = (name: string) => Getter | undefined;

type Token =
  | { t: 'num'; v: number }
  | { t: 'str'; v: string }
  | { t: 'id'; v: string }
  | { t: 'op'; v: string }
  | { t: 'end' };

const OPERATORS = [
  '>>>',
  '===',
  '!==',
  '**',
  '??',
  '&&',
  '||',
  '==',
  '!=',
  '<=',
  '>=',
  '<<',
  '>>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '<',
  '>',
  '!',
  '~',
  '&',
  '|',
  '^',
  '?',
  ':',
  '(',
  ')',
  '[',
  ']',
  ',',
  '.',
] as const;

function lex(src: string, path: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const num = /^(0x[0-9a-fA-F_]+|0b[01_]+|\d[\d_]*(\.\d+)?([eE][+-]?\d+)?)/.exec(src.slice(i));
    if (num) {
      const text = num[0].replace(/_/g, '');
      out.push({ t: 'num', v: text.startsWith('0b') ? parseInt(text.slice(2), 2) : Number(text) });
      i += num[0].length;
      continue;
    }
    const id = /^[$A-Za-z_][$\w]*/.exec(src.slice(i));
    if (id) {
      out.push({ t: 'id', v: id[0] });
      i += id[0].length;
      continue;
    }
    if (c === "'" || c === '"') {
      const close = src.indexOf(c, i + 1);
      if (close < 0) throw new ContractError(path, `unterminated string in expression '${src}'`);
      out.push({ t: 'str', v: src.slice(i + 1, close) });
      i = close + 1;
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) throw new ContractError(path, `unexpected character '${c}' in expression '${src}'`);
    out.push({ t: 'op', v: op });
    i += op.length;
  }
  out.push({ t: 'end' });
  return out;
}

// Binding powers of binary operators (higher binds tighter).
const BINARY: Record<string, number> = {
  '??': 1,
  '||': 2,
  '&&': 3,
  '|': 4,
  '^': 5,
  '&': 6,
  '==': 7,
  '!=': 7,
  '===': 7,
  '!==': 7,
  '<': 8,
  '<=': 8,
  '>': 8,
  '>=': 8,
  '<<': 9,
  '>>': 9,
  '>>>': 9,
  '+': 10,
  '-': 10,
  '*': 11,
  '/': 11,
  '%': 11,
  '**': 12,
};

type Fn = (args: unknown[]) => unknown;
const n = (v: unknown): number => Number(v);
export const FUNCTIONS: Record<string, { min: number; max: number; fn: Fn }> = {
  min: { min: 1, max: 99, fn: (a) => Math.min(...a.map(n)) },
  max: { min: 1, max: 99, fn: (a) => Math.max(...a.map(n)) },
  abs: { min: 1, max: 1, fn: (a) => Math.abs(n(a[0])) },
  floor: { min: 1, max: 1, fn: (a) => Math.floor(n(a[0])) },
  ceil: { min: 1, max: 1, fn: (a) => Math.ceil(n(a[0])) },
  int: { min: 1, max: 1, fn: (a) => Math.trunc(n(a[0])) },
  round: { min: 1, max: 2, fn: (a) => roundTo(n(a[0]), a[1] === undefined ? 0 : n(a[1])) },
  sqrt: { min: 1, max: 1, fn: (a) => Math.sqrt(n(a[0])) },
  len: { min: 1, max: 1, fn: (a) => lengthOf(a[0]) },
  sum: {
    min: 1,
    max: 1,
    fn: (a) => (Array.isArray(a[0]) ? a[0].reduce((x: number, y) => x + n(y), 0) : n(a[0])),
  },
  hex: { min: 1, max: 2, fn: (a) => toHex(a[0], a[1] === undefined ? 0 : n(a[1])) },
  str: { min: 1, max: 1, fn: (a) => String(a[0]) },
  num: { min: 1, max: 1, fn: (a) => n(a[0]) },
  substr: {
    min: 2,
    max: 3,
    fn: (a) => String(a[0]).substr(n(a[1]), a[2] === undefined ? undefined : n(a[2])),
  },
  bit: { min: 2, max: 2, fn: (a) => Math.floor(n(a[0]) / 2 ** n(a[1])) % 2 },
  defined: { min: 1, max: 1, fn: (a) => a[0] !== undefined && a[0] !== null },
};

export function roundTo(v: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(v * f) / f;
}

function lengthOf(v: unknown): number {
  if (typeof v === 'string' || Array.isArray(v) || v instanceof Uint8Array) return v.length;
  return 0;
}

function toHex(v: unknown, width: number): string {
  return Math.trunc(n(v)).toString(16).toUpperCase().padStart(width, '0');
}

/** Parsed expression. Names are checked while parsing; back ends turn the tree into closures or JS source. */
export type Node =
  | { k: 'lit'; v: number | string | boolean | undefined }
  | { k: 'id'; name: string }
  | { k: 'special'; name: string }
  | { k: 'un'; op: string; a: Node }
  | { k: 'bin'; op: string; a: Node; b: Node }
  | { k: 'cond'; c: Node; a: Node; b: Node }
  | { k: 'member'; o: Node; key: Node }
  | { k: 'call'; fn: string; args: Node[] }
  | { k: 'arr'; items: Node[] };

const SPECIALS = new Set(['ctx', '$offset', '$length', '$remaining', '$index', '$item', '$value']);

class Parser {
  private i = 0;
  constructor(
    private readonly toks: Token[],
    private readonly src: string,
    private readonly path: string,
    private readonly has: (name: string) => boolean,
  ) {}

  fail(msg: string): never {
    throw new ContractError(this.path, `${msg} in expression '${this.src}'`);
  }
  peek(): Token {
    return this.toks[this.i]!;
  }
  isOp(v: string): boolean {
    const t = this.peek();
    return t.t === 'op' && t.v === v;
  }
  expect(v: string): void {
    if (!this.isOp(v)) this.fail(`expected '${v}'`);
    this.i++;
  }

  parseAll(): Node {
    const node = this.expr(0);
    if (this.peek().t !== 'end') this.fail('unexpected trailing input');
    return node;
  }

  expr(minBp: number): Node {
    let left = this.unary();
    for (;;) {
      const t = this.peek();
      if (t.t !== 'op') break;
      if (t.v === '?' && minBp === 0) {
        this.i++;
        const a = this.expr(0);
        this.expect(':');
        left = { k: 'cond', c: left, a, b: this.expr(0) };
        continue;
      }
      const bp = BINARY[t.v];
      if (bp === undefined || bp <= minBp) break;
      this.i++;
      // '**' is right-associative
      const right = this.expr(t.v === '**' ? bp - 1 : bp);
      left = { k: 'bin', op: t.v === '===' ? '==' : t.v === '!==' ? '!=' : t.v, a: left, b: right };
    }
    return left;
  }

  unary(): Node {
    const t = this.peek();
    if (t.t === 'op' && (t.v === '-' || t.v === '!' || t.v === '~' || t.v === '+')) {
      this.i++;
      return { k: 'un', op: t.v, a: this.unary() };
    }
    return this.postfix(this.primary());
  }

  postfix(node: Node): Node {
    for (;;) {
      if (this.isOp('.')) {
        this.i++;
        const t = this.peek();
        if (t.t !== 'id') this.fail("expected a name after '.'");
        this.i++;
        node = { k: 'member', o: node, key: { k: 'lit', v: t.v } };
      } else if (this.isOp('[')) {
        this.i++;
        const key = this.expr(0);
        this.expect(']');
        node = { k: 'member', o: node, key };
      } else return node;
    }
  }

  primary(): Node {
    const t = this.peek();
    this.i++;
    if (t.t === 'num' || t.t === 'str') return { k: 'lit', v: t.v };
    if (t.t === 'op' && t.v === '(') {
      const node = this.expr(0);
      this.expect(')');
      return node;
    }
    if (t.t === 'op' && t.v === '[') {
      const items: Node[] = [];
      while (!this.isOp(']')) {
        items.push(this.expr(0));
        if (!this.isOp(']')) this.expect(',');
      }
      this.i++;
      return { k: 'arr', items };
    }
    if (t.t !== 'id') this.fail('unexpected end or operator');
    if (this.isOp('(')) return this.call(t.v);
    if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
    if (t.v === 'null') return { k: 'lit', v: undefined };
    if (SPECIALS.has(t.v)) return { k: 'special', name: t.v };
    if (!this.has(t.v)) this.fail(`field '${t.v}' is not defined before use`);
    return { k: 'id', name: t.v };
  }

  call(name: string): Node {
    this.i++;
    const args: Node[] = [];
    while (!this.isOp(')')) {
      args.push(this.expr(0));
      if (!this.isOp(')')) this.expect(',');
    }
    this.i++;
    if (name === 'byte') {
      if (args.length !== 1) this.fail('byte() takes one argument');
    } else {
      const f = FUNCTIONS[name];
      if (!f) this.fail(`unknown function '${name}'`);
      if (args.length < f.min || args.length > f.max) this.fail(`wrong number of arguments to ${name}()`);
    }
    return { k: 'call', fn: name, args };
  }
}

export function frameByte(s: State, i: number): number {
  const at = i < 0 ? s.stop + i : s.base + i;
  if (at < s.base || at >= s.stop) throw new NeedBytes(i < 0 ? -i : i + 1);
  return s.buf[at]!;
}

export function member(obj: unknown, key: unknown): unknown {
  if (obj === null || obj === undefined) return undefined;
  if (typeof obj === 'object' || typeof obj === 'string') {
    const k = typeof key === 'number' ? key : String(key);
    return Object.hasOwn(obj as object, k) ? (obj as Record<string | number, unknown>)[k] : undefined;
  }
  return undefined;
}

export function plus(x: unknown, y: unknown): unknown {
  return typeof x === 'string' || typeof y === 'string' ? String(x) + String(y) : n(x) + n(y);
}

// Numbers and numeric strings compare by value so '1' == 1 (YAML keys are strings).
export function looseEq(x: unknown, y: unknown): boolean {
  if (x === y) return true;
  if (typeof x === 'number' && typeof y === 'string') return y !== '' && x === Number(y);
  if (typeof y === 'number' && typeof x === 'string') return x !== '' && y === Number(x);
  return false;
}

function special(name: string): Getter {
  switch (name) {
    case 'ctx':
      return (s) => s.ctx;
    case '$offset':
      return (s) => s.pos - s.base;
    case '$length':
      return (s) => s.stop - s.base;
    case '$remaining':
      return (s) => s.end - s.pos;
    case '$index':
      return (s) => s.index;
    case '$item':
      return (s) => s.item;
    default:
      return (s) => s.value;
  }
}

/** Closure back end. */
function toClosure(node: Node, resolve: NameResolver): Getter {
  const c = (x: Node) => toClosure(x, resolve);
  switch (node.k) {
    case 'lit': {
      const v = node.v;
      return () => v;
    }
    case 'id':
      return resolve(node.name)!;
    case 'special':
      return special(node.name);
    case 'un': {
      const a = c(node.a);
      if (node.op === '-') return (s) => -n(a(s));
      if (node.op === '+') return (s) => n(a(s));
      if (node.op === '!') return (s) => !a(s);
      return (s) => ~n(a(s));
    }
    case 'cond': {
      const [k, a, b] = [c(node.c), c(node.a), c(node.b)];
      return (s) => (k(s) ? a(s) : b(s));
    }
    case 'member': {
      const [o, key] = [c(node.o), c(node.key)];
      return (s) => member(o(s), key(s));
    }
    case 'arr': {
      const items = node.items.map(c);
      return (s) => items.map((g) => g(s));
    }
    case 'call': {
      const args = node.args.map(c);
      if (node.fn === 'byte') {
        const a = args[0]!;
        return (s) => frameByte(s, n(a(s)));
      }
      const fn = FUNCTIONS[node.fn]!.fn;
      if (args.length === 1) {
        const a = args[0]!;
        return (s) => fn([a(s)]);
      }
      return (s) => fn(args.map((g) => g(s)));
    }
    case 'bin':
      return binary(node.op, c(node.a), c(node.b));
  }
}

function binary(op: string, a: Getter, b: Getter): Getter {
  switch (op) {
    case '+':
      return (s) => plus(a(s), b(s));
    case '-':
      return (s) => n(a(s)) - n(b(s));
    case '*':
      return (s) => n(a(s)) * n(b(s));
    case '/':
      return (s) => n(a(s)) / n(b(s));
    case '%':
      return (s) => n(a(s)) % n(b(s));
    case '**':
      return (s) => n(a(s)) ** n(b(s));
    case '==':
      return (s) => looseEq(a(s), b(s));
    case '!=':
      return (s) => !looseEq(a(s), b(s));
    case '<':
      return (s) => n(a(s)) < n(b(s));
    case '<=':
      return (s) => n(a(s)) <= n(b(s));
    case '>':
      return (s) => n(a(s)) > n(b(s));
    case '>=':
      return (s) => n(a(s)) >= n(b(s));
    case '&&':
      return (s) => a(s) && b(s);
    case '||':
      return (s) => a(s) || b(s);
    case '??':
      return (s) => a(s) ?? b(s);
    case '&':
      return (s) => n(a(s)) & n(b(s));
    case '|':
      return (s) => n(a(s)) | n(b(s));
    case '^':
      return (s) => n(a(s)) ^ n(b(s));
    case '<<':
      return (s) => n(a(s)) << n(b(s));
    case '>>':
      return (s) => n(a(s)) >> n(b(s));
    default:
      return (s) => n(a(s)) >>> n(b(s));
  }
}

export function parseExpr(src: unknown, path: string, has: (name: string) => boolean): Node {
  if (typeof src === 'number' || typeof src === 'boolean') return { k: 'lit', v: src };
  if (typeof src !== 'string') throw new ContractError(path, 'expected an expression (string or number)');
  return new Parser(lex(src, path), src, path, has).parseAll();
}

export function compileExpr(src: unknown, path: string, resolve: NameResolver): Getter {
  return toClosure(
    parseExpr(src, path, (name) => resolve(name) !== undefined),
    resolve,
  );
}

export type TemplatePart = string | Node;

/** 'temperature_${channel}' → literal text and expressions. */
export function parseTemplate(src: string, path: string, has: (name: string) => boolean): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('${', i);
    if (open < 0) {
      parts.push(src.slice(i));
      break;
    }
    if (open > i) parts.push(src.slice(i, open));
    const close = src.indexOf('}', open);
    if (close < 0) throw new ContractError(path, `unterminated \${ in '${src}'`);
    parts.push(parseExpr(src.slice(open + 2, close), path, has));
    i = close + 1;
  }
  return parts;
}

export function compileTemplate(src: string, path: string, resolve: NameResolver): Getter {
  const parts = parseTemplate(src, path, (name) => resolve(name) !== undefined).map((p): Getter =>
    typeof p === 'string' ? () => p : toClosure(p, resolve),
  );
  if (parts.length === 0) return () => '';
  if (parts.length === 1 && typeof parts[0] !== 'function') return parts[0]!;
  return (s) => {
    let out = '';
    for (const p of parts) out += String(p(s));
    return out;
  };
}
