// The generated code's first part: the frame's checks (prefix, markers, length, size bounds,
// checksums) in the same order, at the same offsets and with the same reasons as Framing.check.
import { hex2, type GScope, type GenBase } from './codegen-expr.ts';
import type { Framing } from './framing.ts';

/** Same checks, order, offsets and reasons as Framing.check, as straight-line code. */
export function emitFraming(g: GenBase, fr: Framing): void {
  const { startM, endM, length, min, max } = fr.plan;
  const none: GScope = { cs: { names: new Set(), up: null }, js: 'o0', up: null };
  const loc = { buf: 'b', end: 'b.length' };
  g.emit('const b = s.buf; let base = 0;');
  if (fr.prefixByte >= 0)
    g.emit(`while (base < ${fr.prefixMax} && base < b.length - 1 && b[base] === ${fr.prefixByte}) base++;`);
  g.emit('s.base = base; s.pos = base;');
  if (startM) {
    g.emit(
      `if (b.length - base < ${startM.length}) H.fail(s, b.length, 'truncated', ${g.k('frame too short for its start marker')});`,
    );
    startM.forEach((m, i) =>
      g.emit(
        `if (b[base + ${i}] !== ${m}) H.fail(s, base + ${i}, 'framing', ${g.k(`start marker 0x${hex2(m)} not found`)});`,
      ),
    );
  }
  g.emit('let stop = b.length; s.stop = stop;');
  if (length !== undefined) {
    g.emit(
      `let total; try { total = +${g.exprOf(length, none, loc)}; } catch (err) { H.lengthUnreadable(s, err); }`,
    );
    g.emit(
      `if (!Number.isInteger(total) || total < 1) H.fail(s, base, 'length', ${g.k('frame length ')} + total + ${g.k(' is not valid')});`,
    );
    g.emit(
      `if (base + total > b.length) H.fail(s, b.length, 'truncated', ${g.k('frame needs ')} + total + ${g.k(' bytes, has ')} + (b.length - base));`,
    );
    g.emit(
      `if (base + total < b.length) H.fail(s, base + total, 'length', (b.length - base - total) + ${g.k(' bytes after the end of the frame')});`,
    );
    g.emit('stop = base + total;');
  }
  g.emit(
    `if (stop - base < ${min}) H.fail(s, stop, 'truncated', ${g.k(`frame needs at least ${min} bytes, has `)} + (stop - base));`,
  );
  g.emit(
    `if (stop - base > ${max}) H.fail(s, base + ${max}, 'length', ${g.k(`frame longer than ${max} bytes`)});`,
  );
  g.emit('s.stop = stop; s.end = stop;');
  if (endM) {
    g.emit(
      `if (stop - base < ${endM.length + (startM?.length ?? 0)}) H.fail(s, stop, 'truncated', ${g.k('frame too short for its end marker')});`,
    );
    endM.forEach((m, i) =>
      g.emit(
        `if (b[stop - ${endM.length - i}] !== ${m}) H.fail(s, stop - ${endM.length - i}, 'framing', ${g.k(`end marker 0x${hex2(m)} not found`)});`,
      ),
    );
  }
  for (const c of fr.checksums) {
    const at = (off: number) => (off < 0 ? `(stop - ${-off})` : `(base + ${off})`);
    const [from, to, pos, n] = [g.t('cf'), g.t('ct'), g.t('ca'), c.alg.size];
    g.emit(`const ${from} = ${at(c.from)}, ${to} = ${at(c.to)}, ${pos} = ${at(c.at)};`);
    g.emit(
      `if (${from} < base || ${to} > stop || ${from} > ${to} || ${pos} < base || ${pos} + ${n} > stop) H.fail(s, stop, 'truncated', ${g.k(`frame too short for checksum '${c.name}'`)});`,
    );
    let stored = '0';
    for (let i = 0; i < n; i++) stored = `(${stored} * 256 + b[${pos} + ${c.little ? n - 1 - i : i}])`;
    const [want, got] = [g.t('cw'), g.t('cg')];
    g.emit(`const ${want} = ${g.f(c.alg.compute)}(b, ${from}, ${to}), ${got} = ${stored};`);
    g.emit(
      `if (${want} !== ${got}) H.fail(s, ${pos}, 'checksum', ${g.k(`'${c.name}' is 0x`)} + H.hexN(${got}, ${n}) + ${g.k(', computed 0x')} + H.hexN(${want}, ${n}));`,
    );
  }
}
