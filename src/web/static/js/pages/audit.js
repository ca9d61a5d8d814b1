// The audit trail (admins): who changed what and when, with the result; filters and paging.
import { api, query } from '../api.js';
import { clear, errorBox, h } from '../dom.js';
import { formatTime } from '../format.js';

const PAGE = 50;

function row(e) {
  return h(
    'tr',
    { 'data-audit': String(e.id), 'data-result': e.result },
    h('td', {}, h('time', {}, formatTime(e.ts))),
    h('td', {}, e.username ?? '—'),
    h('td', {}, h('code', {}, e.action)),
    h('td', {}, e.target ?? ''),
    h('td', {}, h('span', { class: `badge result-${e.result}` }, `${e.result} ${e.status}`)),
    h('td', { class: 'small' }, e.detail ? JSON.stringify(e.detail) : ''),
    h('td', { class: 'muted small' }, e.address ?? ''),
  );
}

export function render(main) {
  const root = h('section', { class: 'audit' });
  main.append(root);
  const user = h('input', { name: 'user', placeholder: 'user' });
  const result = h(
    'select',
    { name: 'result', 'aria-label': 'result' },
    ...['', 'ok', 'denied', 'failed'].map((r) => h('option', { value: r }, r || 'any result')),
  );
  const body = h('tbody');
  const info = h('p', { class: 'muted' });
  const status = h('div');
  let offset = 0;
  const more = h('button', { type: 'button', class: 'secondary', name: 'more' }, 'Older');
  const load = async (append) => {
    clear(status);
    try {
      const page = await api(
        `/api/audit${query({ user: user.value || undefined, result: result.value || undefined, offset, limit: PAGE })}`,
      );
      if (!append) clear(body);
      for (const e of page.items) body.append(row(e));
      offset += page.items.length;
      info.textContent = `${offset} of ${page.total} entries`;
      more.hidden = offset >= page.total;
    } catch (err) {
      clear(status, errorBox(err));
    }
  };
  const reload = () => {
    offset = 0;
    void load(false);
  };
  more.onclick = () => void load(true);
  root.append(
    h('h1', {}, 'Audit trail'),
    h(
      'form',
      { class: 'row', onsubmit: (e) => (e.preventDefault(), reload()) },
      user,
      result,
      h('button', { type: 'submit' }, 'Filter'),
    ),
    status,
    h(
      'table',
      { class: 'audit-log' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['time', 'user', 'action', 'target', 'result', 'detail', 'address'].map((t) => h('th', {}, t)),
        ),
      ),
      body,
    ),
    info,
    more,
  );
  reload();
}
