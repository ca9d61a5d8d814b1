// Checksums over byte ranges: sums, xor and table-driven CRCs described by their Rocksoft parameters.
import { ContractError } from './errors.ts';

export interface CrcParams {
  width: number;
  poly: number;
  init: number;
  refin: boolean;
  refout: boolean;
  xorout: number;
}

export type ChecksumFn = (buf: Uint8Array, from: number, to: number) => number;

export interface ChecksumAlgorithm {
  /** Stored size in bytes. */
  size: number;
  compute: ChecksumFn;
}

export const CRC_PRESETS: Record<string, CrcParams> = {
  crc8: { width: 8, poly: 0x07, init: 0, refin: false, refout: false, xorout: 0 },
  'crc8-maxim': { width: 8, poly: 0x31, init: 0, refin: true, refout: true, xorout: 0 },
  'crc16-modbus': { width: 16, poly: 0x8005, init: 0xffff, refin: true, refout: true, xorout: 0 },
  'crc16-arc': { width: 16, poly: 0x8005, init: 0, refin: true, refout: true, xorout: 0 },
  'crc16-ccitt-false': { width: 16, poly: 0x1021, init: 0xffff, refin: false, refout: false, xorout: 0 },
  'crc16-xmodem': { width: 16, poly: 0x1021, init: 0, refin: false, refout: false, xorout: 0 },
  'crc16-kermit': { width: 16, poly: 0x1021, init: 0, refin: true, refout: true, xorout: 0 },
  'crc16-x25': { width: 16, poly: 0x1021, init: 0xffff, refin: true, refout: true, xorout: 0xffff },
  crc32: { width: 32, poly: 0x04c11db7, init: 0xffffffff, refin: true, refout: true, xorout: 0xffffffff },
  crc32c: { width: 32, poly: 0x1edc6f41, init: 0xffffffff, refin: true, refout: true, xorout: 0xffffffff },
};

function reflect(v: number, bits: number): number {
  let r = 0;
  for (let i = 0; i < bits; i++) if (v & (2 ** i)) r += 2 ** (bits - 1 - i);
  return r;
}

/** Builds a table-driven CRC for widths 8..32. Reflected input uses the reflected table (LSB first). */
export function makeCrc(p: CrcParams, path: string): ChecksumAlgorithm {
  const { width } = p;
  if (!Number.isInteger(width) || width < 8 || width > 32)
    throw new ContractError(path, 'CRC width must be 8..32');
  const mask = width === 32 ? 0xffffffff : 2 ** width - 1;
  const table = new Uint32Array(256);
  const rpoly = reflect(p.poly, width);
  const top = 2 ** (width - 1);
  for (let i = 0; i < 256; i++) {
    if (p.refin) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ rpoly : c >>> 1;
      table[i] = c >>> 0;
    } else {
      let c = i * 2 ** (width - 8);
      for (let k = 0; k < 8; k++) c = c >= top ? ((c - top) * 2) ^ p.poly : c * 2;
      table[i] = (c >>> 0) & mask;
    }
  }
  const init = p.refin ? reflect(p.init, width) : p.init;
  const outReflect = p.refin !== p.refout;
  const xorout = p.xorout >>> 0;
  const shift = width - 8;
  const size = Math.ceil(width / 8);
  const finish = (crc: number): number => (((outReflect ? reflect(crc, width) : crc) ^ xorout) & mask) >>> 0;
  if (p.refin) {
    return {
      size,
      compute(buf, from, to) {
        let crc = init;
        for (let i = from; i < to; i++) crc = (crc >>> 8) ^ table[(crc ^ buf[i]!) & 0xff]!;
        return finish(crc >>> 0);
      },
    };
  }
  return {
    size,
    compute(buf, from, to) {
      let crc = init;
      for (let i = from; i < to; i++) {
        crc = ((crc * 256) ^ table[((crc >>> shift) ^ buf[i]!) & 0xff]!) >>> 0;
        crc = (crc & mask) >>> 0;
      }
      return finish(crc);
    },
  };
}

const SIMPLE: Record<string, ChecksumAlgorithm> = {
  sum8: {
    size: 1,
    compute(buf, from, to) {
      let s = 0;
      for (let i = from; i < to; i++) s += buf[i]!;
      return s & 0xff;
    },
  },
  sum16: {
    size: 2,
    compute(buf, from, to) {
      let s = 0;
      for (let i = from; i < to; i++) s += buf[i]!;
      return s & 0xffff;
    },
  },
  xor8: {
    size: 1,
    compute(buf, from, to) {
      let s = 0;
      for (let i = from; i < to; i++) s ^= buf[i]!;
      return s;
    },
  },
};

const cache = new Map<string, ChecksumAlgorithm>();

/** 'crc16-modbus' | 'sum8' | 'xor8' | 'crc32' | … or { width, poly, init, refin, refout, xorout }. */
export function checksumAlgorithm(spec: unknown, path: string): ChecksumAlgorithm {
  if (typeof spec === 'string') {
    const simple = SIMPLE[spec];
    if (simple) return simple;
    const preset = CRC_PRESETS[spec];
    if (!preset) {
      const known = [...Object.keys(SIMPLE), ...Object.keys(CRC_PRESETS)].join(', ');
      throw new ContractError(path, `unknown checksum '${spec}' (known: ${known})`);
    }
    let alg = cache.get(spec);
    if (!alg) cache.set(spec, (alg = makeCrc(preset, path)));
    return alg;
  }
  if (spec && typeof spec === 'object') {
    const o = spec as Record<string, unknown>;
    const num = (k: string, d?: number): number => {
      const v = o[k] ?? d;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
        throw new ContractError(`${path}.${k}`, 'expected a non-negative integer');
      return v;
    };
    return makeCrc(
      {
        width: num('width'),
        poly: num('poly'),
        init: num('init', 0),
        refin: o.refin === true,
        refout: o.refout === true,
        xorout: num('xorout', 0),
      },
      path,
    );
  }
  throw new ContractError(path, 'expected a checksum name or CRC parameters');
}
