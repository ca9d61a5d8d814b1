// Linkage rules: the list (condition, actions, state per device, enable/disable), a JSON box to create
// one (the API's error is shown as it is: it names the field), and the recent firings, live.
import { api } from '../api.js';
import { clear, emptyState, errorBox, h, table } from '../dom.js';
import { formatTime, formatValue } from '../format.js';
import { subscribe } from '../live.js';

export const live = true;

const FIRED = 'rule-fired';
const EXAMPLE = {
  id: 'heater-on',
  name: 'Heater on when it gets cold',
  when: { device: 'sensor-21', point: 'temperature_3', op: '<', value: 5, reset: { op: '>', value: 8 } },
  then: [{ type: 'command', device: 'heater-1', action: 'switch', params: { on: true } }],
};

/** `sensor-21 temperature_3 < 5 for 30 s (reset > 8)` */
export function describeWhen(when) {
  const subject =
    when.device === '*' ? `any device${when.contract ? ` (${when.contract})` : ''}` : when.device;
  const cmp = when.value === undefined ? when.op : `${when.op} ${JSON.stringify(when.value)}`;
  return [
    when.subject === 'gateway' ? `gateway ${subject}` : subject,
    when.point,
    cmp,
    when.for ? `for ${when.for} s` : null,
    when.reset ? `(reset ${when.reset.op} ${JSON.stringify(when.reset.value)})` : null,
  ]
    .filter(Boolean)
    .join(' ');
}

function describeAction(a) {
  if (a.type === 'command') return `command ${a.action} → ${a.device}`;
  if (a.type === 'publish') return `publish ${a.topic}`;
  return 'event';
}

function ruleRow(rule, onToggle) {
  const states = Object.entries(rule.status ?? {});
  return h(
    'tr',
    { 'data-rule': rule.id, 'data-enabled': String(rule.enabled) },
    h(
      'td',
      {},
      h('strong', {}, rule.id),
      rule.name && rule.name !== rule.id ? h('div', { class: 'small' }, rule.name) : null,
    ),
    h('td', { class: 'small' }, describeWhen(rule.when)),
    h('td', { class: 'small' }, rule.then.map(describeAction).join('; ')),
    h(
      'td',
      { class: 'small state' },
      states.length ? states.map(([dev, s]) => `${dev}: ${s}`).join(', ') : '—',
    ),
    h(
      'td',
      { class: 'actions' },
      h(
        'button',
        { type: 'button', class: 'secondary', name: 'toggle', onclick: () => onToggle(rule) },
        rule.enabled ? 'Disable' : 'Enable',
      ),
    ),
  );
}

function firingRow(e) {
  const command = (e.detail.actions ?? []).find((a) => a.type === 'command');
  const failed = (e.detail.actions ?? []).filter((a) => a.error).map((a) => a.error);
  return h(
    'tr',
    { 'data-firing': e.subjectId },
    h('td', {}, formatTime(e.ts)),
    h('td', {}, e.subjectId),
    h('td', {}, e.detail.subject ?? '—'),
    h('td', { class: 'num' }, formatValue(e.detail.value)),
    h(
      'td',
      { class: 'small' },
      command?.commandId ?? '—',
      failed.length ? h('div', { class: 'error' }, failed.join('; ')) : null,
    ),
  );
}

export function render(main) {
  const listBox = h('div');
  const firingsBox = h('div');
  const source = h('textarea', { name: 'rule', rows: 10, spellcheck: 'false' });
  source.value = JSON.stringify(EXAMPLE, null, 2);
  const output = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'rule-form', onsubmit: (e) => (e.preventDefault(), create()) },
    h('label', { class: 'block' }, 'New rule (JSON, see README "Linkage rules")', source),
    h('button', { type: 'submit' }, 'Create'),
  );
  main.append(
    h(
      'section',
      { class: 'page rules' },
      h('h1', {}, 'Rules'),
      listBox,
      h('h2', {}, 'Recent firings'),
      firingsBox,
      h('h2', {}, 'Create'),
      form,
      output,
    ),
  );

  async function loadRules() {
    try {
      const { items } = await api('/api/rules');
      clear(
        listBox,
        items.length
          ? table(
              ['Rule', 'When', 'Then', 'State', ''],
              items.map((r) => ruleRow(r, toggle)),
              { class: 'rules' },
            )
          : emptyState('No rules yet.'),
      );
    } catch (err) {
      clear(listBox, errorBox(err, 'Cannot load the rules'));
    }
  }

  async function loadFirings() {
    try {
      const { items } = await api(`/api/events?kind=${FIRED}&limit=20`);
      clear(
        firingsBox,
        items.length
          ? table(['Time', 'Rule', 'Device', 'Value', 'Command'], items.map(firingRow), { class: 'firings' })
          : emptyState('No firings yet.'),
      );
    } catch (err) {
      clear(firingsBox, errorBox(err, 'Cannot load the firings'));
    }
  }

  async function toggle(rule) {
    try {
      await api(`/api/rules/${encodeURIComponent(rule.id)}`, {
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
      const created = await api('/api/rules', { method: 'POST', json: rule });
      output.append(h('p', { class: 'ok' }, `Created rule ${created.id}.`));
      await loadRules();
    } catch (err) {
      output.append(errorBox(err, 'Rule refused'));
    }
  }

  void loadRules();
  void loadFirings();
  const stop = subscribe('event', (e) => {
    if (e.kind !== FIRED) return;
    void loadRules();
    void loadFirings();
  });
  return stop;
}
