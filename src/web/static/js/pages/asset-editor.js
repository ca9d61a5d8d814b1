// Editing a device's or gateway's asset data in place (PATCH with only the fields that changed).
import { api } from '../api.js';
import { clear, definitionList, errorBox, h } from '../dom.js';

const TEXT_FIELDS = [
  ['name', 'Name'],
  ['type', 'Type'],
  ['model', 'Model'],
  ['location', 'Location'],
];
const LIFECYCLES = ['active', 'disabled', 'retired'];

/** What the form holds, as the API wants it: empty text is null, tags a list. */
export function assetChanges(record, values) {
  const changes = {};
  for (const [key] of TEXT_FIELDS) {
    const v = values[key].trim() === '' ? null : values[key].trim();
    if (v !== (record[key] ?? null)) changes[key] = v;
  }
  const tags = values.tags
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (tags.join(',') !== (record.tags ?? []).join(',')) changes.tags = tags;
  const installDate = values.installDate === '' ? null : values.installDate;
  if (installDate !== (record.installDate ?? null)) changes.installDate = installDate;
  if (values.lifecycle !== record.lifecycle) changes.lifecycle = values.lifecycle;
  return changes;
}

/**
 * A form for `record` that PATCHes `path`; `onSaved(updated)` gets the API's answer, `onCancel()` is
 * called to close it.
 */
export function assetEditor(record, path, { onSaved, onCancel }) {
  const inputs = {};
  for (const [key, label] of TEXT_FIELDS) {
    inputs[key] = h('input', { name: key, value: record[key] ?? '', 'aria-label': label });
  }
  inputs.tags = h('input', { name: 'tags', value: (record.tags ?? []).join(', '), 'aria-label': 'Tags' });
  inputs.installDate = h('input', {
    name: 'installDate',
    type: 'date',
    value: record.installDate?.slice(0, 10) ?? '',
    'aria-label': 'Installed',
  });
  inputs.lifecycle = h(
    'select',
    { name: 'lifecycle', 'aria-label': 'Lifecycle' },
    LIFECYCLES.map((l) => h('option', { value: l, selected: l === record.lifecycle }, l)),
  );
  const status = h('div');
  const field = (label, input) => h('label', { class: 'field' }, h('span', {}, label), input);
  return h(
    'form',
    {
      class: 'asset-editor',
      onsubmit: async (e) => {
        e.preventDefault();
        const values = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value]));
        const changes = assetChanges(record, values);
        if (Object.keys(changes).length === 0) return onCancel();
        try {
          onSaved(await api(path, { method: 'PATCH', json: changes }));
        } catch (err) {
          clear(status, errorBox(err, 'Not saved'));
        }
      },
    },
    TEXT_FIELDS.map(([key, label]) => field(label, inputs[key])),
    field('Tags (comma-separated)', inputs.tags),
    field('Installed', inputs.installDate),
    field('Lifecycle', inputs.lifecycle),
    h(
      'div',
      { class: 'row' },
      h('button', { type: 'submit' }, 'Save'),
      h('button', { type: 'button', class: 'secondary', onclick: () => onCancel() }, 'Cancel'),
    ),
    status,
  );
}

/** Asset data as a list with an Edit button; live refreshes wait while the form is open. */
export function assetPanel(path, rowsOf) {
  const element = h('div', { class: 'asset' });
  let record;
  let editing = false;
  const show = () => {
    if (editing || !record) return;
    clear(
      element,
      definitionList(rowsOf(record)),
      h('button', { type: 'button', class: 'secondary', name: 'edit', onclick: edit }, 'Edit'),
    );
  };
  const close = () => {
    editing = false;
    show();
  };
  const edit = () => {
    editing = true;
    clear(
      element,
      assetEditor(record, path, {
        onSaved: (updated) => {
          record = { ...record, ...updated };
          close();
        },
        onCancel: close,
      }),
    );
  };
  return {
    element,
    set(next) {
      record = next;
      show();
    },
  };
}
