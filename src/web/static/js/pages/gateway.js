// One gateway: online state and asset data, its devices (live), its latest reports, its events and
// status queries sent to it.
import { api, query } from '../api.js';
import { backToOverview, clear, columns, emptyState, errorBox, fillList, h, table } from '../dom.js';
import { flattenForDisplay, formatTime, formatValue } from '../format.js';
import { batched, subscribe } from '../live.js';
import { assetPanel } from './asset-editor.js';
import { DEVICE_HEADERS, deviceRow, drawIdentity, markReading, tickAgo, when } from '../registry-view.js';
import { queryPanel } from './command-panels.js';
import { eventItem } from './device.js';
import { originatorAlarmsPanel } from '../alarm-view.js';

const EVENT_LIMIT = 20;
const RELOAD_DELAY_MS = 300;
const CLOCK_TICK_MS = 5000;

function assetRows(g) {
  return [
    ['Id', g.id],
    ['Name', g.name],
    ['Type', g.type],
    ['Model', g.model],
    ['Location', g.location],
    ['Tags', g.tags?.length ? g.tags.join(', ') : null],
    ['Installed', g.installDate],
    ['Lifecycle', g.lifecycle],
    ['Registered', formatTime(g.createdAt)],
    ['Last heard', when(g.lastSeen)],
    ...Object.entries(g.attributes ?? {}).map(([k, v]) => [k, formatValue(v)]),
  ];
}

function reportItem(r) {
  return h(
    'li',
    {},
    h('time', { class: 'muted' }, formatTime(r.ts)),
    ` #${r.seq}`,
    // one line per value, wrapped inside the column, instead of a JSON string running out of it
    h(
      'dl',
      { class: 'report-body' },
      ...flattenForDisplay(r.body).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
    ),
  );
}

/** Shows live data: read again after the event stream was interrupted. */
export const live = true;

export function render(main, { id }) {
  const title = h('h1', {}, id);
  const state = h('p', { class: 'state-line' });
  const status = h('div');
  const asset = assetPanel(`/api/gateways/${encodeURIComponent(id)}`, assetRows);
  const devicesBox = h('div');
  const reportsBox = h('ul', { class: 'events reports' });
  const eventsBox = h('ul', { class: 'events' });
  const queries = queryPanel(id);
  const alarms = originatorAlarmsPanel('gateway', id);
  const root = h(
    'section',
    { class: 'page gateway' },
    backToOverview(),
    title,
    state,
    status,
    h('h2', {}, 'Alarms'),
    alarms.element,
    columns(['Asset', asset.element], ['Status queries', queries.element]),
    h('h2', {}, 'Devices'),
    devicesBox,
    columns(['Latest reports', reportsBox], ['Recent events', eventsBox]),
  );
  main.append(root);
  let deviceIds = new Set();

  async function load() {
    try {
      const [detail, events] = await Promise.all([
        api(`/api/gateways/${encodeURIComponent(id)}`),
        api(`/api/events${query({ subjectType: 'gateway', subject: id, limit: EVENT_LIMIT })}`),
      ]);
      const g = detail.gateway;
      deviceIds = new Set(detail.devices.map((d) => d.id));
      drawIdentity(title, state, g);
      asset.set(g);
      clear(
        devicesBox,
        detail.devices.length
          ? table(DEVICE_HEADERS, detail.devices.map(deviceRow), { class: 'devices' })
          : emptyState('No devices behind this gateway yet.'),
      );
      fillList(reportsBox, detail.reports, reportItem, 'No reports.');
      fillList(eventsBox, events.items, eventItem, 'No events.');
      clear(status);
    } catch (err) {
      clear(status, errorBox(err, 'Could not load the gateway'));
    }
  }

  const reload = batched(load, RELOAD_DELAY_MS);
  const reloadSoon = reload.soon;
  const stops = [
    subscribe('telemetry', (m) => {
      if (deviceIds.has(m.dev)) markReading(devicesBox, m.dev, m.ts);
    }),
    subscribe('event', (e) => {
      if ((e.subjectType === 'gateway' && e.subjectId === id) || deviceIds.has(e.subjectId)) reloadSoon();
    }),
    subscribe('command', (record) => queries.update(record)),
  ];
  const clock = setInterval(() => tickAgo(root), CLOCK_TICK_MS);
  load().then(() =>
    queries.load().catch((err) => clear(status, errorBox(err, 'Could not load the queries'))),
  );
  return () => {
    for (const stop of stops) stop();
    reload.cancel();
    clearInterval(clock);
    alarms.stop();
  };
}
