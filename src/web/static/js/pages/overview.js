// Overview: gateways and devices with their online state and the time it last changed, kept current
// through the live stream (a new device, an online/offline change or a reading shows without reload).
import { api } from '../api.js';
import { describeCounts, worstSeverity, watchSummary } from '../alarm-view.js';
import { badge, clear, emptyState, errorBox, h, table } from '../dom.js';
import { batched, subscribe } from '../live.js';
import { DEVICE_HEADERS, deviceRow, gatewayLink, markReading, tickAgo, when } from '../registry-view.js';

const DEVICE_LIMIT = 1000;
const RELOAD_DELAY_MS = 300;
const CLOCK_TICK_MS = 5000;
/** How often the ingest rate is measured: readings stored between two reads of /api/ingest. */
const INGEST_POLL_MS = 2000;

/** Keeps `el` showing the platform's readings per second; returns how to stop. */
function showIngestRate(el) {
  let last;
  async function poll() {
    try {
      const now = await api('/api/ingest');
      if (last && now.at > last.at) {
        const perSecond = ((now.readingsTotal - last.readingsTotal) * 1000) / (now.at - last.at);
        el.textContent = `Ingest: ${Math.round(perSecond).toLocaleString('en-US')} readings/s`;
      } else if (!last) el.textContent = 'Ingest: measuring…';
      last = now;
    } catch {
      el.textContent = 'Ingest: unknown (the platform did not answer)';
      last = undefined;
    }
  }
  poll();
  const timer = setInterval(poll, INGEST_POLL_MS);
  return () => clearInterval(timer);
}

function gatewayRow(g, devices) {
  const own = devices.filter((d) => d.gatewayId === g.id);
  return h(
    'tr',
    { 'data-gateway': g.id },
    h('td', {}, gatewayLink(g.id, g.name), g.name ? h('div', { class: 'muted small' }, g.id) : null),
    h('td', { class: 'state' }, badge(g.online)),
    h('td', { class: 'since' }, when(g.onlineChangedAt)),
    h('td', {}, when(g.lastSeen)),
    h('td', { class: 'num' }, `${own.filter((d) => d.online).length} / ${own.length}`),
  );
}

/** Shows live data: read again after the event stream was interrupted. */
export const live = true;

/** The overview's alarm badge: active alarms by severity, a link to the alarms page. */
function drawAlarmBadge(el, summary) {
  const worst = worstSeverity(summary);
  el.dataset.active = String(summary.activeTotal);
  clear(
    el,
    h(
      'a',
      { href: '#/alarms', class: `badge alarm-badge ${worst ? `sev-${worst}` : 'none'}` },
      `Alarms: ${describeCounts(summary)}`,
    ),
    summary.unacknowledged > 0
      ? h('span', { class: 'muted small' }, ` ${summary.unacknowledged} not acknowledged`)
      : null,
  );
}

export function render(main) {
  const summary = h('p', { class: 'summary' });
  const alarms = h('p', { class: 'alarms-line' });
  const ingest = h('p', { class: 'ingest muted' });
  const status = h('div');
  const gatewaysBox = h('div');
  const devicesBox = h('div');
  const search = h('input', {
    type: 'search',
    placeholder: 'Filter by name, id, gateway or contract',
    class: 'filter',
  });
  const root = h(
    'section',
    { class: 'page overview' },
    h('h1', {}, 'Overview'),
    summary,
    alarms,
    ingest,
    status,
    h('h2', {}, 'Gateways'),
    gatewaysBox,
    h('div', { class: 'row' }, h('h2', {}, 'Devices'), search),
    devicesBox,
  );
  main.append(root);

  let gateways = [];
  let devices = new Map();
  let total = 0;
  let loaded = false;

  function draw() {
    if (!loaded) return;
    const list = [...devices.values()];
    const online = list.filter((d) => d.online).length;
    summary.textContent =
      `${total} device${total === 1 ? '' : 's'}, ${online} online · ` +
      `${gateways.length} gateway${gateways.length === 1 ? '' : 's'}, ${gateways.filter((g) => g.online).length} online`;
    clear(
      gatewaysBox,
      gateways.length
        ? table(
            ['Gateway', 'State', 'Since', 'Last heard', 'Devices online'],
            gateways.map((g) => gatewayRow(g, list)),
            {
              class: 'gateways',
            },
          )
        : emptyState('No gateways yet.'),
    );
    const needle = search.value.trim().toLowerCase();
    const shown = needle
      ? list.filter((d) =>
          [d.id, d.name, d.gatewayId, d.contractId].some((v) => v && v.toLowerCase().includes(needle)),
        )
      : list;
    clear(
      devicesBox,
      list.length === 0
        ? emptyState('No devices yet — start a gateway or run with --demo (npm start).')
        : shown.length === 0
          ? emptyState('No device matches the filter.')
          : table(DEVICE_HEADERS, shown.map(deviceRow), {
              class: 'devices',
            }),
      total > list.length
        ? h('p', { class: 'muted' }, `Showing the first ${list.length} of ${total} devices.`)
        : null,
    );
  }

  async function load() {
    try {
      const [g, d] = await Promise.all([api('/api/gateways'), api(`/api/devices?limit=${DEVICE_LIMIT}`)]);
      gateways = g.items;
      devices = new Map(d.items.map((x) => [x.id, x]));
      total = d.total;
      loaded = true;
      clear(status);
      draw();
    } catch (err) {
      clear(status, errorBox(err, 'Could not load gateways and devices'));
    }
  }

  const reload = batched(load, RELOAD_DELAY_MS);
  const reloadSoon = reload.soon;

  const stops = [
    subscribe('telemetry', (m) => {
      const d = devices.get(m.dev);
      // a device seen for the first time (unless the list is cut at DEVICE_LIMIT and it is beyond)
      if (!d) return total <= devices.size ? reloadSoon() : undefined;
      d.lastSeen = Math.max(d.lastSeen ?? 0, m.ts);
      markReading(devicesBox, d.id, d.lastSeen);
    }),
    subscribe('event', (e) => {
      if (e.subjectType !== 'device' && e.subjectType !== 'gateway') return;
      // online/offline, registered, identified, updated: the registry has the truth, read it again
      reloadSoon();
    }),
  ];
  search.addEventListener('input', draw);
  const clock = setInterval(() => tickAgo(root), CLOCK_TICK_MS);
  const stopIngest = showIngestRate(ingest);
  const stopAlarms = watchSummary(alarms, drawAlarmBadge);
  load();
  return () => {
    stopIngest();
    stopAlarms();
    for (const stop of stops) stop();
    reload.cancel();
    clearInterval(clock);
  };
}
