// Pieces shared by the overview, the gateway and the device page: times with "… ago", links, device rows,
// online state.
import { badge, clear, h } from './dom.js';
import { formatAgo, formatTime } from './format.js';

/** A time with its age; the age is refreshed in place by `tickAgo`. */
export function when(ms) {
  if (ms === null || ms === undefined) return h('span', { class: 'muted' }, 'never');
  return h(
    'time',
    { datetime: new Date(ms).toISOString(), title: new Date(ms).toString(), 'data-ms': ms },
    formatTime(ms),
    h('span', { class: 'muted ago' }, ` · ${formatAgo(ms)}`),
  );
}

/** Refreshes the "… ago" parts in place (rebuilding rows would swallow a click in progress). */
export function tickAgo(root) {
  for (const el of root.querySelectorAll('time[data-ms] .ago')) {
    el.textContent = ` · ${formatAgo(Number(el.parentElement.getAttribute('data-ms')))}`;
  }
}

export function deviceLink(d) {
  return h('a', { href: `#/device/${encodeURIComponent(d.id)}`, class: 'device-link' }, d.name ?? d.id);
}

export function gatewayLink(id, name) {
  return id
    ? h('a', { href: `#/gateway/${encodeURIComponent(id)}`, class: 'gateway-link' }, name ?? id)
    : '—';
}

export function deviceRow(d) {
  return h(
    'tr',
    { 'data-device': d.id },
    h('td', {}, deviceLink(d), d.name ? h('div', { class: 'muted small' }, d.id) : null),
    h('td', {}, gatewayLink(d.gatewayId)),
    h('td', {}, d.contractId ?? '—'),
    h('td', { class: 'state' }, badge(d.online)),
    h('td', { class: 'since' }, when(d.onlineChangedAt)),
    h('td', { class: 'last-data' }, when(d.lastSeen)),
  );
}

export const DEVICE_HEADERS = ['Device', 'Gateway', 'Contract', 'State', 'Since', 'Last data'];

/** A reading arrived for a device shown in `box`: its "last data" cell and a short highlight. */
export function markReading(box, deviceId, ts) {
  const row = box.querySelector(`tr[data-device="${CSS.escape(deviceId)}"]`);
  if (!row) return;
  row.querySelector('.last-data')?.replaceChildren(when(ts));
  row.classList.remove('fresh');
  void row.offsetWidth; // restart the highlight animation
  row.classList.add('fresh');
}

/** A gateway's or device's heading (its name, else its id) and state line: online badge, since when, id. */
export function drawIdentity(title, state, x) {
  title.textContent = x.name ?? x.id;
  clear(
    state,
    badge(x.online),
    ' ',
    h('span', { class: 'muted' }, `since ${formatTime(x.onlineChangedAt)}`),
    x.name ? h('span', { class: 'muted' }, ` · ${x.id}`) : null,
  );
}
