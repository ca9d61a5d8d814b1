// Alarms as the pages show them: a severity badge, one table row per alarm with Acknowledge and Clear
// (operators; the server refuses viewers anyway), the active-count summary, and the header's count.
import { api, query } from './api.js';
import { clear, errorBox, h } from './dom.js';
import { formatTime, formatValue } from './format.js';
import { batched, subscribe } from './live.js';

export const SEVERITIES = ['critical', 'major', 'minor', 'warning', 'indeterminate'];
/** Kind of the events the platform records for every alarm transition. */
export const ALARM_EVENT = 'alarm';

export function severityBadge(severity) {
  return h('span', { class: `badge sev-${severity}`, 'data-severity': severity }, severity);
}

export const ALARM_HEADERS = ['Severity', 'Raised', 'Originator', 'Type', 'Message', 'Status', ''];

function originatorLink(a) {
  const href = `#/${a.originatorType}/${encodeURIComponent(a.originatorId)}`;
  return h('a', { href }, a.originatorType === 'gateway' ? `gateway ${a.originatorId}` : a.originatorId);
}

function statusText(a) {
  const parts = [a.active ? 'active' : `cleared ${formatTime(a.clearedAt)} by ${a.clearedBy}`];
  if (a.acknowledged) parts.push(`acknowledged by ${a.ackBy}`);
  return parts.join(', ');
}

/**
 * One alarm; `onChanged` runs after an acknowledge or clear went through (the caller reads again),
 * `onError` shows a refusal.
 */
export function alarmRow(a, { onChanged, onError }) {
  const act = (what) => async () => {
    try {
      await api(`/api/alarms/${a.id}/${what}`, { method: 'POST' });
      onChanged();
    } catch (err) {
      onError(err);
    }
  };
  return h(
    'tr',
    {
      'data-alarm': String(a.id),
      'data-active': String(a.active),
      'data-acknowledged': String(a.acknowledged),
      class: a.active ? 'alarm active' : 'alarm cleared',
    },
    h('td', {}, severityBadge(a.severity)),
    h('td', {}, formatTime(a.raisedAt)),
    h('td', {}, originatorLink(a)),
    h('td', {}, a.type),
    h(
      'td',
      {},
      a.message,
      a.value === null || a.value === undefined
        ? null
        : h('span', { class: 'muted' }, ` (${formatValue(a.value)})`),
    ),
    h('td', { class: 'small status' }, statusText(a)),
    h(
      'td',
      { class: 'actions' },
      a.acknowledged
        ? null
        : h(
            'button',
            { type: 'button', class: 'secondary', name: 'ack', onclick: act('ack') },
            'Acknowledge',
          ),
      a.active
        ? h('button', { type: 'button', class: 'secondary', name: 'clear', onclick: act('clear') }, 'Clear')
        : null,
    ),
  );
}

/** `2 critical · 1 major` (only the severities with active alarms), or `none active`. */
export function describeCounts(summary) {
  const parts = SEVERITIES.filter((s) => summary.active[s] > 0).map((s) => `${summary.active[s]} ${s}`);
  return parts.length ? parts.join(' · ') : 'none active';
}

/** The worst severity with an active alarm, or undefined. */
export function worstSeverity(summary) {
  return SEVERITIES.find((s) => summary.active[s] > 0);
}

/**
 * Keeps `el` showing the active alarms by severity, read again when an alarm changes; `draw(el, summary)`
 * decides how. Returns how to stop.
 */
export function watchSummary(el, draw) {
  async function load() {
    try {
      draw(el, await api('/api/alarms/summary'));
    } catch (err) {
      clear(el, errorBox(err, 'Alarms'));
    }
  }
  const reload = batched(load, 300);
  const stop = subscribe('event', (e) => {
    if (e.kind === ALARM_EVENT) reload.soon();
  });
  load();
  return () => {
    stop();
    reload.cancel();
  };
}

/** The header's count next to "Alarms": active alarms, coloured by the worst severity. */
export function drawNavCount(el, summary) {
  const worst = worstSeverity(summary);
  el.className = worst ? `count sev-${worst}` : 'count';
  el.dataset.active = String(summary.activeTotal);
  el.textContent = summary.activeTotal > 0 ? String(summary.activeTotal) : '';
  el.title = describeCounts(summary);
}

/** The active alarms of one device or gateway, live; for its page. */
export function originatorAlarmsPanel(originatorType, id) {
  const box = h('div', { class: 'originator-alarms' });
  const status = h('div');
  const element = h('div', {}, status, box);
  async function load() {
    try {
      const body = await api(`/api/alarms${query({ status: 'active', originatorType, originator: id })}`);
      clear(
        box,
        body.items.length
          ? h(
              'table',
              { class: 'alarms' },
              h(
                'tbody',
                {},
                body.items.map((a) => alarmRow(a, { onChanged: load, onError: showError })),
              ),
            )
          : h('p', { class: 'empty' }, 'No active alarms.'),
        h(
          'p',
          { class: 'small' },
          h(
            'a',
            { href: `#/alarms?status=all&originator=${encodeURIComponent(id)}` },
            `All alarms of ${id}, cleared ones too →`,
          ),
        ),
      );
    } catch (err) {
      showError(err);
    }
  }
  function showError(err) {
    clear(status, errorBox(err));
  }
  const reload = batched(load, 300);
  const stop = subscribe('event', (e) => {
    if (e.kind === ALARM_EVENT && e.subjectType === originatorType && e.subjectId === id) reload.soon();
  });
  load();
  return {
    element,
    stop() {
      stop();
      reload.cancel();
    },
  };
}
