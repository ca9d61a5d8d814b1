// A small SVG line chart: one series of (time, value) with an optional min–max band, time on x,
// value on y, a few labelled grid lines. The geometry functions are pure (no DOM) and tested alone.
import { s } from './dom.js';
import { formatAxisTime } from './format.js';

const WIDTH = 480;
const HEIGHT = 170;
const PAD = { left: 62, right: 10, top: 10, bottom: 24 };

/** About `count` round values (1, 2 or 5 × 10^n apart) covering [min, max]. */
export function niceTicks(min, max, count = 4) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  // the round step whose tick count comes closest to the wish
  const step = [1, 2, 5, 10]
    .map((m) => m * magnitude)
    .reduce((best, st) =>
      Math.abs((max - min) / st - count) < Math.abs((max - min) / best - count) ? st : best,
    );
  const ticks = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step)
    ticks.push(+v.toPrecision(12));
  return ticks;
}

/** A y-axis label: fixed decimals, exponent form for very large or small magnitudes. */
export function formatTick(v, decimals) {
  const abs = Math.abs(v);
  if (abs >= 1e7 || (abs !== 0 && abs < 1e-4)) return v.toExponential(2);
  return v.toFixed(Math.min(decimals, 6));
}

function pointTitle(p, unit) {
  const u = unit ? ` ${unit}` : '';
  const range = p.min !== undefined && p.max !== undefined && p.min !== p.max ? ` (${p.min}–${p.max})` : '';
  return `${new Date(p.t).toLocaleString()}: ${+p.v.toFixed(6)}${u}${range}`;
}

/** The value range to draw: the data's, widened a little, and never empty. */
export function valueDomain(points) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of points) {
    lo = Math.min(lo, p.min ?? p.v, p.v);
    hi = Math.max(hi, p.max ?? p.v, p.v);
  }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) return [lo - (Math.abs(lo) || 1) * 0.05, hi + (Math.abs(hi) || 1) * 0.05];
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

/**
 * SVG path data through the points; a gap longer than `gapMs` between two points starts a new
 * segment, so missing data is not drawn as a straight line.
 */
export function linePath(points, x, y, gapMs = Infinity) {
  let d = '';
  let prev;
  for (const p of points) {
    const move = prev === undefined || p.t - prev.t > gapMs;
    d += `${move ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
    prev = p;
  }
  return d;
}

/** Closed path around the min–max band (only over points that have both). */
export function bandPath(points, x, y) {
  const withBand = points.filter((p) => p.min !== undefined && p.max !== undefined);
  if (withBand.length < 2) return '';
  const upper = withBand.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.max).toFixed(1)}`);
  const lower = withBand
    .slice()
    .reverse()
    .map((p) => `L${x(p.t).toFixed(1)},${y(p.min).toFixed(1)}`);
  return `${upper.join('')}${lower.join('')}Z`;
}

/**
 * `points`: [{ t, v, min?, max? }] sorted by t; `from`/`to`: the time window (ms); `gapMs`: longest
 * interval still drawn as connected. Returns an <svg> element.
 */
export function lineChart({ points, from, to, unit, gapMs, label }) {
  const [lo, hi] = valueDomain(points);
  const innerW = WIDTH - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const x = (t) => PAD.left + ((t - from) / (to - from)) * innerW;
  const y = (v) => PAD.top + (1 - (v - lo) / (hi - lo)) * innerH;

  const ticks = niceTicks(lo, hi, 4);
  // as many decimals as the tick step needs, so close values get distinct labels
  const decimals = ticks.length > 1 ? Math.max(0, -Math.floor(Math.log10(ticks[1] - ticks[0]) + 1e-9)) : 2;
  const grid = ticks.map((v) => [
    s('line', { class: 'grid', x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v) }),
    s('text', { class: 'tick', x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, formatTick(v, decimals)),
  ]);
  const span = to - from;
  const timeTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const t = from + f * span;
    const anchor = f === 0 ? 'start' : f === 1 ? 'end' : 'middle';
    return s(
      'text',
      { class: 'tick', x: x(t), y: HEIGHT - 6, 'text-anchor': anchor },
      formatAxisTime(t, span),
    );
  });
  const last = points[points.length - 1];
  return s(
    'svg',
    {
      class: 'chart',
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: 'img',
      'aria-label': `${label ?? 'history'}${unit ? ` (${unit})` : ''}`,
      'data-points': points.length,
    },
    s('title', {}, `${label ?? 'history'}: ${points.length} values`),
    grid,
    timeTicks,
    s('line', { class: 'axis', x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: HEIGHT - PAD.bottom }),
    bandPath(points, x, y) ? s('path', { class: 'band', d: bandPath(points, x, y) }) : null,
    points.length ? s('path', { class: 'line', d: linePath(points, x, y, gapMs) }) : null,
    last ? s('circle', { class: 'dot', cx: x(last.t), cy: y(last.v), r: 3 }) : null,
    // invisible targets whose tooltips give each bucket's time and values
    points.map((p) =>
      s('circle', { class: 'hit', cx: x(p.t), cy: y(p.v), r: 5 }, s('title', {}, pointTitle(p, unit))),
    ),
  );
}
