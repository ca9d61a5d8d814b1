// The device page's history: a range selector and one chart per numeric point, read from the
// aggregates endpoint (min/max/avg per bucket) and refreshed while new readings arrive.
import { api, query } from '../api.js';
import { lineChart } from '../chart.js';
import { clear, emptyState, errorBox, h } from '../dom.js';
import { formatValue } from '../format.js';

/** Bucket per range: about 60–100 buckets per chart. */
const BUCKETS = new Map([
  [15 * 60_000, '10s'],
  [60 * 60_000, '1m'],
  [24 * 60 * 60_000, '15m'],
]);
const REFRESH_MS = 15_000;
const MAX_CHARTS = 24;

export function bucketFor(rangeMs) {
  return BUCKETS.get(rangeMs) ?? `${Math.max(1, Math.round(rangeMs / 90_000))}s`;
}

export function historyPanel(deviceId, ranges) {
  let range = ranges[0].ms;
  let points = [];
  let pollMs = 0;
  let dirty = false;
  const buttons = ranges.map((r) =>
    h(
      'button',
      {
        type: 'button',
        class: r.ms === range ? 'active' : '',
        'data-range': r.label,
        'aria-pressed': String(r.ms === range),
        onclick: () => {
          range = r.ms;
          for (const b of buttons) {
            const on = b.getAttribute('data-range') === r.label;
            b.classList.toggle('active', on);
            b.setAttribute('aria-pressed', String(on));
          }
          draw();
        },
      },
      r.label,
    ),
  );
  const charts = h('div', { class: 'charts' });
  const csv = h('a', { class: 'csv', download: `${deviceId}.csv` }, 'CSV of this range');
  const element = h(
    'div',
    { class: 'history' },
    h('div', { class: 'range', role: 'group', 'aria-label': 'time range' }, buttons, csv),
    charts,
  );

  async function chartFor(point, from, to, bucket) {
    const body = await api(
      `/api/devices/${encodeURIComponent(deviceId)}/aggregates${query({ point: point.name, from, to, bucket })}`,
    );
    // a bucket is drawn at its middle, kept inside the window for the partial buckets at its edges
    const series = body.items.map((b) => ({
      t: Math.min(to, Math.max(from, b.start + body.bucketMs / 2)),
      v: b.avg,
      min: b.min,
      max: b.max,
    }));
    const gapMs = Math.max(3 * body.bucketMs, 3 * pollMs);
    return series.length
      ? lineChart({ points: series, from, to, unit: point.unit, gapMs, label: point.name })
      : emptyState('No readings in this range.');
  }

  let generation = 0;
  async function draw() {
    const mine = ++generation;
    dirty = false;
    const numeric = points.filter((p) => typeof p.value === 'number').slice(0, MAX_CHARTS);
    if (numeric.length === 0) {
      clear(charts, emptyState('No numeric points to chart yet.'));
      return;
    }
    const to = Date.now();
    const from = to - range;
    csv.href = `/api/devices/${encodeURIComponent(deviceId)}/telemetry.csv${query({ from, to })}`;
    const bucket = bucketFor(range);
    const cards = await Promise.all(
      numeric.map(async (p) => {
        const body = await chartFor(p, from, to, bucket).catch((err) =>
          errorBox(err, 'Could not load the history'),
        );
        return h(
          'figure',
          { class: 'chart-card', 'data-point': p.name },
          h(
            'figcaption',
            {},
            h('strong', {}, p.name),
            p.unit ? h('span', { class: 'muted' }, ` (${p.unit})`) : null,
            h('span', { class: 'muted' }, ` · last ${formatValue(p.value)}`),
          ),
          body,
        );
      }),
    );
    if (mine !== generation) return; // a newer draw (range changed) already runs
    clear(charts, ...cards);
  }

  const timer = setInterval(() => {
    if (dirty) draw();
  }, REFRESH_MS);

  return {
    element,
    /** The device's latest values: which points to chart. */
    setPoints(latest, devicePollMs) {
      const before = points.map((p) => p.name).join();
      points = latest.slice().sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
      pollMs = devicePollMs ?? 0;
      if (points.map((p) => p.name).join() !== before) draw();
    },
    /** A reading arrived: redraw at the next refresh (a new point at once). */
    newData(message) {
      dirty = true;
      let added = false;
      for (const p of message.points) {
        const known = points.find((x) => x.name === p.name);
        if (known) known.value = p.value;
        else {
          points.push({ name: p.name, value: p.value, unit: p.unit ?? null });
          added = true;
        }
      }
      if (added) {
        points.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
        draw();
      }
    },
    dispose() {
      clearInterval(timer);
      generation++;
    },
  };
}
