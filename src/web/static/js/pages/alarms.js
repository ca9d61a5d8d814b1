// Alarms: the list (active by default, or all with the cleared ones; by severity; one device or
// gateway), Acknowledge and Clear per alarm, live; below, the alarm rules (enable, disable) and a JSON
// box to create one (the API's error is shown as it is: it names the field).
import { api, query } from '../api.js';
import { clear, emptyState, errorBox, h, table } from '../dom.js';
import { ALARM_EVENT, ALARM_HEADERS, alarmRow, describeCounts, SEVERITIES } from '../alarm-view.js';
import { batched, subscribe } from '../live.js';

export const live = true;

const LIMIT = 200;
const EXAMPLE = {
  id: 'cold-room-warm',
  name: 'Cold room above 8 °C for 5 minutes',
  severity: 'major',
  condition: 'threshold',
  device: 'sensor-21',
  point: 'temperature_3',
  op: '>',
  value: 8,
  for: 300,
  clear: { op: '<', value: 6 },
};

/** `temperature_3 > 8 for 300 s (clears < 6)` and the like, for the rules table. */
export function describeAlarmRule(r) {
  const subject = r.device === '*' ? `any ${r.subject}` : `${r.subject} ${r.device}`;
  const only = [r.contract ? `contract ${r.contract}` : null, r.model ? `model ${r.model}` : null]
    .filter(Boolean)
    .join(', ');
  const what =
    r.condition === 'threshold' || r.condition === 'rate'
      ? `${r.point}${r.condition === 'rate' ? ` per ${r.per ?? 60} s` : ''} ${r.op} ${JSON.stringify(r.value)}`
      : r.condition === 'offline'
        ? 'offline'
        : `${r.count} decode error${r.count === 1 ? '' : 's'} within ${r.within} s`;
  return [
    subject,
    only ? `(${only})` : null,
    what,
    r.for ? `for ${r.for} s` : null,
    r.clear ? `(clears ${r.clear.op} ${JSON.stringify(r.clear.value)})` : null,
  ]
    .filter(Boolean)
    .join(' ');
}

function ruleRow(r, onToggle) {
  return h(
    'tr',
    { 'data-alarm-rule': r.id, 'data-enabled': String(r.enabled) },
    h('td', {}, h('strong', {}, r.id), r.name !== r.id ? h('div', { class: 'small' }, r.name) : null),
    h('td', {}, r.type),
    h('td', {}, h('span', { class: `badge sev-${r.severity}` }, r.severity)),
    h(
      'td',
      { class: 'small' },
      describeAlarmRule(r),
      r.enabled ? null : h('span', { class: 'muted' }, ' (disabled)'),
    ),
    h(
      'td',
      { class: 'actions' },
      h(
        'button',
        { type: 'button', class: 'secondary', name: 'toggle', onclick: () => onToggle(r) },
        r.enabled ? 'Disable' : 'Enable',
      ),
    ),
  );
}

export function render(main, params = {}) {
  const status = h(
    'select',
    { name: 'status' },
    ['active', 'all', 'cleared'].map((s) => h('option', { value: s }, s)),
  );
  const severity = h(
    'select',
    { name: 'severity' },
    h('option', { value: '' }, 'any severity'),
    SEVERITIES.map((s) => h('option', { value: s }, s)),
  );
  status.value = ['active', 'all', 'cleared'].includes(params.status) ? params.status : 'active';
  const summary = h('p', { class: 'summary alarm-summary' });
  const message = h('div', { 'aria-live': 'polite' });
  const listBox = h('div');
  const rulesBox = h('div');
  const source = h('textarea', { name: 'alarm-rule', rows: 12, spellcheck: 'false' });
  source.value = JSON.stringify(EXAMPLE, null, 2);
  const output = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'rule-form alarm-rule-form', onsubmit: (e) => (e.preventDefault(), create()) },
    h('label', { class: 'block' }, 'New alarm rule (JSON, see README "Alarms")', source),
    h('button', { type: 'submit' }, 'Create'),
  );
  main.append(
    h(
      'section',
      { class: 'page alarms' },
      h('h1', {}, params.originator ? `Alarms of ${params.originator}` : 'Alarms'),
      summary,
      h('div', { class: 'row filters' }, h('label', {}, 'Show ', status), ' ', h('label', {}, severity)),
      message,
      listBox,
      h('h2', {}, 'Alarm rules'),
      rulesBox,
      form,
      output,
    ),
  );

  async function loadAlarms() {
    try {
      const [body, counts] = await Promise.all([
        api(
          `/api/alarms${query({
            status: status.value,
            severity: severity.value || undefined,
            originator: params.originator,
            limit: LIMIT,
          })}`,
        ),
        api('/api/alarms/summary'),
      ]);
      summary.textContent =
        counts.activeTotal > 0
          ? `Active: ${describeCounts(counts)} · ${counts.unacknowledged} not acknowledged`
          : 'No active alarms.';
      clear(
        listBox,
        body.items.length
          ? table(
              ALARM_HEADERS,
              body.items.map((a) => alarmRow(a, { onChanged: loadAlarms, onError: showError })),
              { class: 'alarms' },
            )
          : emptyState(status.value === 'active' ? 'No active alarms.' : 'No alarms.'),
        body.total > body.items.length
          ? h('p', { class: 'muted' }, `Showing the newest ${body.items.length} of ${body.total}.`)
          : null,
      );
    } catch (err) {
      clear(listBox, errorBox(err, 'Cannot load the alarms'));
    }
  }

  function showError(err) {
    clear(message, errorBox(err));
  }

  async function loadRules() {
    try {
      const { items } = await api('/api/alarm-rules');
      clear(
        rulesBox,
        items.length
          ? table(
              ['Rule', 'Type', 'Severity', 'Condition', ''],
              items.map((r) => ruleRow(r, toggle)),
              {
                class: 'alarm-rules',
              },
            )
          : emptyState('No alarm rules.'),
      );
    } catch (err) {
      clear(rulesBox, errorBox(err, 'Cannot load the alarm rules'));
    }
  }

  async function toggle(rule) {
    try {
      await api(`/api/alarm-rules/${encodeURIComponent(rule.id)}`, {
        method: 'PATCH',
        json: { enabled: !rule.enabled },
      });
    } catch (err) {
      clear(output, errorBox(err, `Cannot change ${rule.id}`));
    }
    await loadRules();
  }

  async function create() {
    clear(output);
    let rule;
    try {
      rule = JSON.parse(source.value);
    } catch (err) {
      output.append(errorBox(err, 'Not JSON'));
      return;
    }
    try {
      const created = await api('/api/alarm-rules', { method: 'POST', json: rule });
      output.append(h('p', { class: 'ok' }, `Created alarm rule ${created.id}.`));
      await loadRules();
    } catch (err) {
      output.append(errorBox(err, 'Alarm rule refused'));
    }
  }

  status.addEventListener('change', () => {
    clear(message);
    void loadAlarms();
  });
  severity.addEventListener('change', () => void loadAlarms());
  const reload = batched(loadAlarms, 300);
  const stop = subscribe('event', (e) => {
    if (e.kind === ALARM_EVENT && (!params.originator || e.subjectId === params.originator)) reload.soon();
  });
  void loadAlarms();
  void loadRules();
  return () => {
    stop();
    reload.cancel();
  };
}
