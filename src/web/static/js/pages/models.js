// Device models: the built-in and stored models, an editor (open one, change it, check it: its inline
// tests run; upload it as a new version), and "try a frame": paste a frame, see its points as the model
// names them and how well each model fits it.
import { api } from '../api.js';
import { clear, emptyState, errorBox, h, table } from '../dom.js';
import { formatValue } from '../format.js';

/** One poll of the simulated power meter (Modbus TCP, registers 0-10), so a newcomer sees a result at once. */
const EXAMPLE_FRAME =
  '00 01 00 00 00 19 01 03 16 08 FD 02 00 04 7E 00 00 30 39 13 8A 03 B6 00 D7 00 01 08 FB 09 06';
const TEMPLATE = `id: my-meter
version: 1.0.0
name: My meter
contracts: [modbus-tcp]
points:
  - { name: voltage, from: holding.0, scale: 0.1, unit: V }
identify:
  points:
    voltage: { min: 180, max: 280 }
tests:
  - name: one poll
    hex: ${EXAMPLE_FRAME}
    points: { voltage: 230.1 }
`;

export function percent(confidence) {
  return `${Math.round(confidence * 100)} %`;
}

function modelRow(m, onOpen) {
  return h(
    'tr',
    { 'data-model': m.id },
    h('td', {}, h('strong', {}, m.id)),
    h('td', {}, m.name ?? '—'),
    h('td', {}, m.version),
    h('td', {}, m.builtin ? 'built-in' : 'stored'),
    h('td', { class: 'small' }, m.contracts.join(', ')),
    h('td', { class: 'small' }, m.points.map((p) => p.name).join(', ') || '—'),
    h('td', { class: 'small' }, m.commands.map((c) => c.name).join(', ') || '—'),
    h(
      'td',
      { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', name: 'open', onclick: () => onOpen(m) }, 'Open'),
    ),
  );
}

function testsList(tests) {
  const failed = (tests?.cases ?? []).filter((c) => !c.ok);
  return failed.length
    ? h(
        'ul',
        { class: 'failed-tests' },
        failed.map((c) => h('li', {}, `${c.name}: ${c.message ?? 'failed'}`)),
      )
    : null;
}

function tryResult(result) {
  const decoded = result.decoded;
  if (!decoded.ok)
    return h('div', { class: 'decode-error', role: 'alert' }, `${result.contract}: ${decoded.error.reason}`);
  return h(
    'div',
    { class: 'model-try-ok' },
    h('p', { class: 'muted' }, `Decoded with ${result.contract}.`),
    table(
      ['Point', 'Value', 'Unit'],
      result.points.map((p) =>
        h(
          'tr',
          { 'data-point': p.name },
          h('td', {}, p.name),
          h('td', { class: 'num value' }, formatValue(p.value)),
          h('td', { class: 'unit' }, p.unit ?? ''),
        ),
      ),
      { class: 'points' },
    ),
    h('h3', {}, 'How well each model fits'),
    result.scores.length
      ? table(
          ['Model', 'Confidence', 'Clues confirmed', 'Clues missing'],
          result.scores.map((s) =>
            h(
              'tr',
              { 'data-score': s.model },
              h('td', {}, s.model),
              h('td', { class: 'num confidence' }, percent(s.confidence)),
              h('td', { class: 'small' }, s.matched.join(', ')),
              h('td', { class: 'small' }, s.missing.join(', ') || '—'),
            ),
          ),
          { class: 'scores' },
        )
      : emptyState('No model speaks this contract.'),
  );
}

export function render(main) {
  const listBox = h('div');
  const source = h('textarea', { name: 'source', rows: 16, spellcheck: 'false' });
  source.value = TEMPLATE;
  const editorOutput = h('div', { class: 'editor-output', 'aria-live': 'polite' });
  const frame = h('textarea', { name: 'frame', rows: 2, spellcheck: 'false' });
  frame.value = EXAMPLE_FRAME;
  const contract = h('input', { name: 'contract', placeholder: "default: the model's first contract" });
  const context = h('input', { name: 'context', placeholder: 'optional JSON, e.g. {"start": 0}' });
  const useEditor = h('input', { type: 'checkbox', name: 'use-editor', checked: true });
  const tryOutput = h('div', { class: 'try-output', 'aria-live': 'polite' });

  const editor = h(
    'form',
    { class: 'model-editor', onsubmit: (e) => (e.preventDefault(), upload()) },
    h('label', { class: 'block' }, 'Model (YAML, see docs/device-models.md)', source),
    h(
      'div',
      { class: 'row' },
      h('button', { type: 'button', class: 'secondary', name: 'check', onclick: () => check() }, 'Check'),
      h('button', { type: 'submit', name: 'upload', class: 'needs-operator' }, 'Upload'),
    ),
  );
  const tryForm = h(
    'form',
    { class: 'model-try', onsubmit: (e) => (e.preventDefault(), tryFrame()) },
    h('label', { class: 'block' }, 'Frame (hex)', frame),
    h('div', { class: 'row' }, h('label', {}, 'Contract ', contract), h('label', {}, 'Context ', context)),
    h('label', {}, useEditor, ' apply the model in the editor (else: the best-fitting stored model)'),
    h('button', { type: 'submit', name: 'try' }, 'Try'),
  );
  main.append(
    h(
      'section',
      { class: 'page models' },
      h('h1', {}, 'Device models'),
      listBox,
      h('h2', {}, 'Edit and test'),
      editor,
      editorOutput,
      h('h2', {}, 'Try a frame'),
      tryForm,
      tryOutput,
    ),
  );

  async function check() {
    clear(editorOutput);
    try {
      const { model, tests } = await api('/api/models/check', {
        method: 'POST',
        json: { source: source.value },
      });
      editorOutput.append(
        h(
          'p',
          { class: 'ok' },
          `${model.id} ${model.version} is valid; inline tests: ${tests.passed} passed.`,
        ),
      );
    } catch (err) {
      clear(editorOutput, errorBox(err, 'Not valid'), testsList(err.details));
    }
  }

  async function upload() {
    clear(editorOutput);
    try {
      const { model, tests } = await api('/api/models', { method: 'POST', json: { source: source.value } });
      editorOutput.append(
        h(
          'p',
          { class: 'ok' },
          `Stored ${model.id} version ${model.version}; inline tests: ${tests.passed} passed.`,
        ),
      );
      await load();
    } catch (err) {
      clear(editorOutput, errorBox(err, 'Not stored'), testsList(err.details));
    }
  }

  async function tryFrame() {
    clear(tryOutput);
    let ctx;
    try {
      ctx = context.value.trim() ? JSON.parse(context.value) : undefined;
    } catch (err) {
      tryOutput.append(errorBox(err, 'Context'));
      return;
    }
    try {
      const result = await api('/api/models/try', {
        method: 'POST',
        json: {
          frame: frame.value,
          ...(contract.value.trim() ? { contract: contract.value.trim() } : {}),
          ...(ctx ? { context: ctx } : {}),
          ...(useEditor.checked ? { source: source.value } : {}),
        },
      });
      tryOutput.append(tryResult(result));
    } catch (err) {
      tryOutput.append(errorBox(err, 'Cannot try'), testsList(err.details));
    }
  }

  async function open(m) {
    clear(editorOutput);
    try {
      const found = await api(`/api/models/${encodeURIComponent(m.id)}`);
      source.value = found.source;
      editorOutput.append(
        h(
          'p',
          { class: 'muted' },
          m.builtin
            ? `${m.id} is built in: change its id to store your own version of it.`
            : `${m.id} ${m.version}: change it, raise its version and upload.`,
        ),
      );
      editor.scrollIntoView({ block: 'start' });
    } catch (err) {
      editorOutput.append(errorBox(err, 'Cannot open'));
    }
  }

  async function load() {
    try {
      const { items, unavailable } = await api('/api/models');
      clear(
        listBox,
        table(
          ['Id', 'Name', 'Version', 'Source', 'Contracts', 'Points', 'Commands', ''],
          items.map((m) => modelRow(m, open)),
          { class: 'model-list' },
        ),
        unavailable.length
          ? errorBox(`could not be loaded: ${unavailable.join(', ')}`, 'Stored models')
          : null,
      );
    } catch (err) {
      clear(listBox, errorBox(err, 'Could not load the models'));
    }
  }
  load();
  return () => {};
}
