// One device: asset data, latest values (live), a history chart per numeric point, recent events and
// a form to send commands and status queries, with each one's state transitions as they happen.
import { api, query } from '../api.js';
import { backToOverview, clear, columns, emptyState, errorBox, fillList, h, table } from '../dom.js';
import { formatDetail, formatTime, formatValue, RANGES } from '../format.js';
import { subscribe } from '../live.js';
import { originatorAlarmsPanel } from '../alarm-view.js';
import { assetPanel } from './asset-editor.js';
import { drawIdentity, gatewayLink, tickAgo, when } from '../registry-view.js';
import { commandPanel } from './command-panels.js';
import { badFramesPanel } from './device-frames.js';
import { historyPanel } from './device-history.js';
import { modelPanel } from './device-model.js';

const EVENT_LIMIT = 20;
const CLOCK_TICK_MS = 5000;

function assetRows(d) {
  const attributes = Object.entries(d.attributes ?? {});
  return [
    ['Id', d.id],
    ['Name', d.name],
    ['Type', d.type],
    ['Model', d.model],
    ['Gateway', gatewayLink(d.gatewayId)],
    ['Contract', d.contractId],
    ['Location', d.location],
    ['Tags', d.tags?.length ? d.tags.join(', ') : null],
    ['Installed', d.installDate],
    ['Lifecycle', d.lifecycle],
    ['Poll interval', d.pollMs ? `${d.pollMs / 1000} s` : null],
    ['Registered', formatTime(d.createdAt)],
    // kept current by each reading (showLastData), like the latest values beside it
    ['Last data', d.lastSeen ? h('span', { class: 'last-data' }, when(d.lastSeen)) : null],
    ...attributes.map(([k, v]) => [k, formatValue(v)]),
  ];
}

function latestRow(p) {
  return h(
    'tr',
    { 'data-point': p.name },
    h('td', {}, p.name),
    h('td', { class: 'num value' }, formatValue(p.value)),
    h('td', { class: 'unit' }, p.unit ?? ''),
    h('td', { class: 'time' }, formatTime(p.ts)),
  );
}

export function eventItem(e) {
  const detail = Object.entries(e.detail ?? {})
    .map(([k, v]) => `${k}: ${formatDetail(k, v)}`)
    .join(', ');
  return h(
    'li',
    {},
    h('time', { class: 'muted' }, formatTime(e.ts)),
    ' ',
    h('strong', {}, e.kind),
    detail ? h('span', { class: 'muted' }, ` — ${detail}`) : null,
  );
}

/** Shows live data: read again after the event stream was interrupted. */
export const live = true;

export function render(main, { id }) {
  const title = h('h1', {}, id);
  const state = h('p', { class: 'state-line' });
  const status = h('div');
  const asset = assetPanel(`/api/devices/${encodeURIComponent(id)}`, assetRows);
  const latestBox = h('div');
  const eventsBox = h('ul', { class: 'events' });
  const history = historyPanel(id, RANGES);
  const commands = commandPanel(id);
  const badFrames = badFramesPanel(id);
  const alarms = originatorAlarmsPanel('device', id);
  const model = modelPanel(id);
  const root = h(
    'section',
    { class: 'page device' },
    backToOverview(),
    title,
    state,
    status,
    h('h2', {}, 'Alarms'),
    alarms.element,
    columns(['Latest values', latestBox], ['Asset', asset.element], ['Model', model.element]),
    h('h2', {}, 'History'),
    history.element,
    badFrames.element,
    columns(['Commands and queries', commands.element], ['Recent events', eventsBox]),
  );
  main.append(root);

  const latest = new Map();
  let device;

  function drawDevice() {
    drawIdentity(title, state, device);
    asset.set(device);
  }

  /** A reading at `ts`: "Last data" moves with the latest values instead of waiting for the next reload. */
  function showLastData(ts) {
    if (!device || ts <= (device.lastSeen ?? 0)) return;
    device.lastSeen = ts;
    const cell = asset.element.querySelector('.last-data');
    // in place: rebuilding the panel would swallow a click on its Edit button
    if (cell) cell.replaceChildren(when(ts));
    else asset.set(device);
  }

  function drawLatest() {
    const rows = [...latest.values()].sort((a, b) =>
      a.name.localeCompare(b.name, undefined, { numeric: true }),
    );
    clear(
      latestBox,
      rows.length
        ? table(['Point', 'Value', 'Unit', 'Time'], rows.map(latestRow), { class: 'latest' })
        : emptyState('No readings yet.'),
    );
  }

  async function loadDevice() {
    const body = await api(`/api/devices/${encodeURIComponent(id)}`);
    // a reading the stream brought may be newer than the registry's last write
    const shown = device?.lastSeen ?? null;
    device = body.device;
    if (shown !== null && shown > (device.lastSeen ?? 0)) device.lastSeen = shown;
    for (const p of body.latest) latest.set(p.name, p);
    drawDevice();
    drawLatest();
    history.setPoints(body.latest, device.pollMs);
    commands.setDevice(device);
  }

  async function loadEvents() {
    const body = await api(`/api/events${query({ subjectType: 'device', subject: id, limit: EVENT_LIMIT })}`);
    fillList(eventsBox, body.items, eventItem, 'No events.');
  }

  const stops = [
    subscribe('telemetry', (m) => {
      if (m.dev !== id) return;
      showLastData(m.ts);
      if (!m.ok) return badFrames.failed();
      const units = new Map([...latest.values()].map((p) => [p.name, p.unit]));
      for (const p of m.points) {
        const prev = latest.get(p.name);
        if (prev && prev.ts > m.ts) continue;
        latest.set(p.name, {
          name: p.name,
          value: p.value,
          unit: p.unit ?? units.get(p.name) ?? null,
          ts: m.ts,
        });
      }
      drawLatest();
      for (const p of m.points)
        latestBox.querySelector(`tr[data-point="${CSS.escape(p.name)}"]`)?.classList.add('fresh');
      history.newData(m);
    }),
    subscribe('event', (e) => {
      if (e.subjectType !== 'device' || e.subjectId !== id) return;
      eventsBox.querySelector('li.muted:only-child')?.remove();
      eventsBox.prepend(eventItem(e));
      while (eventsBox.children.length > EVENT_LIMIT) eventsBox.lastElementChild.remove();
      loadDevice().catch(() => {}); // online state and asset data may have changed
      if (e.kind.startsWith('model-')) model.load();
    }),
    subscribe('command', (record) => commands.update(record)),
  ];

  const clock = setInterval(() => tickAgo(root), CLOCK_TICK_MS);
  loadDevice()
    .then(() => Promise.all([loadEvents(), commands.load(), badFrames.load(), model.load()]))
    .catch((err) => clear(status, errorBox(err, 'Could not load the device')));
  return () => {
    clearInterval(clock);
    for (const stop of stops) stop();
    history.dispose();
    badFrames.dispose();
    alarms.stop();
  };
}
