// Contracts: the built-in and stored contracts, a "try it" box (paste a frame in hex, optionally a
// context, see the decoded fields and points or the error at its byte offset) and an upload box.
import { api } from '../api.js';
import { clear, emptyState, errorBox, h, table } from '../dom.js';
import { formatValue } from '../format.js';

/** Ready-made frames so a newcomer sees a decode with one click (from the published vectors). */
const EXAMPLES = {
  'dlt645-2007': '68 61 01 00 00 00 00 68 91 08 33 33 34 33 59 33 33 33 8A 16',
  'modbus-rtu': '01 04 04 00 00 08 E6 7D CE',
  'modbus-tcp': '00 01 00 00 00 07 01 03 04 00 05 00 06',
  'cayenne-lpp': '03 67 01 10 05 67 00 FF',
  'acme-th10': 'AA 55 10 01 00 A1 B2 C3 05 09 29 02 00 0B C4 23 45 00 01 C3 A9',
};

/** Bytes of the pasted text as two-digit hex strings (same tolerance as the API: spaces, colons, dashes). */
export function hexBytes(text) {
  const clean = text.replace(/[\s:-]/g, '').replace(/^0x/i, '');
  return clean.match(/.{1,2}/g) ?? [];
}

/** The frame's bytes with the one at the error offset marked (an offset at the end marks "missing"). */
function byteDump(text, offset) {
  const bytes = hexBytes(text);
  const cells = bytes.map((b, i) =>
    h(
      'span',
      { class: i === offset ? 'byte bad' : i > offset ? 'byte after' : 'byte', title: `offset ${i}` },
      b.toUpperCase(),
    ),
  );
  if (offset >= bytes.length)
    cells.push(h('span', { class: 'byte bad missing', title: `offset ${offset}` }, '··'));
  return h('div', { class: 'bytes' }, cells);
}

function decodeResult(result, frameText) {
  if (!result.ok) {
    const { offset, reason } = result.error;
    return h(
      'div',
      { class: 'decode-error', role: 'alert' },
      h(
        'p',
        {},
        h('strong', {}, `Error at byte offset ${offset}`),
        ': ',
        h('span', { class: 'reason' }, reason),
      ),
      byteDump(frameText, offset),
    );
  }
  const points = result.points ?? [];
  const fields = Object.entries(result.fields ?? {});
  return h(
    'div',
    { class: 'decode-ok' },
    h('h3', {}, `Points (${points.length})`),
    points.length
      ? table(
          ['Point', 'Value', 'Unit'],
          points.map((p) =>
            h(
              'tr',
              { 'data-point': p.name },
              h('td', {}, p.name),
              h('td', { class: 'num' }, formatValue(p.value)),
              h('td', {}, p.unit ?? ''),
            ),
          ),
          { class: 'points' },
        )
      : emptyState('The frame decoded but names no telemetry points.'),
    h('h3', {}, `Fields (${fields.length})`),
    table(
      ['Field', 'Value'],
      fields.map(([k, v]) => h('tr', { 'data-field': k }, h('td', {}, k), h('td', {}, formatValue(v)))),
      { class: 'fields' },
    ),
  );
}

function contractRow(c, { onTry, onEdit }) {
  return h(
    'tr',
    { 'data-contract': c.id },
    h('td', {}, h('strong', {}, c.id)),
    h('td', {}, c.name ?? '—'),
    h('td', {}, c.version),
    h('td', {}, c.builtin ? 'built-in' : 'stored'),
    h('td', { class: 'small' }, (c.messages ?? []).join(', ') || '—'),
    h(
      'td',
      { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', name: 'try', onclick: () => onTry(c) }, 'Try'),
      c.builtin
        ? null
        : h('button', { type: 'button', class: 'secondary', name: 'edit', onclick: () => onEdit(c) }, 'Edit'),
    ),
  );
}

/** `params.contract` and `params.frame` (from a device's failed frame) fill the try box and decode. */
export function render(main, params = {}) {
  const listBox = h('div');
  const picker = h('select', { name: 'contract', 'aria-label': 'contract' });
  const frame = h('textarea', {
    name: 'frame',
    rows: 3,
    placeholder: 'frame in hex, e.g. 68 61 01 00 00 00 00 68 91 …',
    spellcheck: 'false',
  });
  const context = h('textarea', {
    name: 'context',
    rows: 2,
    placeholder: 'optional context as JSON, e.g. {"unit": 1, "function": 3, "start": 0, "count": 2}',
    spellcheck: 'false',
  });
  const output = h('div', { class: 'decode-output', 'aria-live': 'polite' });
  const example = h('button', { type: 'button', class: 'secondary', name: 'example' }, 'Example frame');
  const source = h('textarea', {
    name: 'source',
    rows: 8,
    placeholder: 'contract YAML (see docs/contracts.md)',
    spellcheck: 'false',
  });
  const uploadOutput = h('div', { 'aria-live': 'polite' });

  const tryForm = h(
    'form',
    { class: 'try', onsubmit: (e) => (e.preventDefault(), decode()) },
    h('div', { class: 'row' }, h('label', {}, 'Contract ', picker), example),
    h('label', { class: 'block' }, 'Frame (hex)', frame),
    h('label', { class: 'block' }, 'Context (JSON, optional)', context),
    h('button', { type: 'submit' }, 'Decode'),
  );
  const uploadForm = h(
    'form',
    { class: 'upload', onsubmit: (e) => (e.preventDefault(), upload()) },
    h(
      'label',
      { class: 'block' },
      'New contract or new version (YAML); its inline tests run before it is stored',
      source,
    ),
    h('button', { type: 'submit' }, 'Upload'),
  );
  main.append(
    h(
      'section',
      { class: 'page contracts' },
      h('h1', {}, 'Contracts'),
      listBox,
      h('h2', {}, 'Try a frame'),
      tryForm,
      output,
      h('h2', {}, 'Upload'),
      uploadForm,
      uploadOutput,
    ),
  );

  async function decode() {
    clear(output);
    let ctx;
    try {
      ctx = context.value.trim() ? JSON.parse(context.value) : undefined;
      if (ctx !== undefined && (typeof ctx !== 'object' || ctx === null || Array.isArray(ctx)))
        throw new Error('must be a JSON object');
    } catch (err) {
      output.append(errorBox(err, 'Context'));
      return;
    }
    const text = frame.value;
    try {
      const result = await api(`/api/contracts/${encodeURIComponent(picker.value)}/try`, {
        method: 'POST',
        json: { frame: text, ...(ctx ? { context: ctx } : {}) },
      });
      output.append(decodeResult(result, text));
    } catch (err) {
      output.append(errorBox(err, 'Cannot decode'));
    }
  }

  async function upload() {
    clear(uploadOutput);
    try {
      const { contract, tests } = await api('/api/contracts', {
        method: 'POST',
        text: source.value,
        type: 'text/yaml',
      });
      uploadOutput.append(
        h(
          'p',
          { class: 'ok' },
          `Stored ${contract.id} version ${contract.version}; inline tests: ${tests.passed} passed, ${tests.failed} failed.`,
        ),
      );
      await load();
      picker.value = contract.id;
    } catch (err) {
      const failed = (err.details?.cases ?? []).filter((c) => !c.ok);
      clear(
        uploadOutput,
        errorBox(err, 'Not stored'),
        failed.length
          ? h(
              'ul',
              { class: 'failed-tests' },
              failed.map((c) => h('li', {}, `${c.name}: ${c.message ?? 'failed'}`)),
            )
          : null,
      );
    }
  }

  example.addEventListener('click', () => {
    frame.value = EXAMPLES[picker.value] ?? '';
    context.value = '';
    if (!frame.value) clear(output, emptyState(`No example frame for ${picker.value}.`));
  });

  function tryContract(c) {
    picker.value = c.id;
    frame.value = EXAMPLES[c.id] ?? frame.value;
    tryForm.scrollIntoView({ block: 'start' });
    frame.focus();
  }

  /** The stored contract's newest source into the upload box, to be changed and stored as a new version. */
  async function editContract(c) {
    clear(uploadOutput);
    try {
      const { items } = await api(`/api/contracts/${encodeURIComponent(c.id)}/versions`);
      const newest = items[items.length - 1];
      if (!newest) throw new Error(`no stored source for ${c.id}`);
      source.value = newest.source;
      uploadOutput.append(
        h('p', { class: 'muted' }, `${c.id} ${newest.version}: change it, raise its version and upload.`),
      );
      uploadForm.scrollIntoView({ block: 'start' });
      source.focus();
    } catch (err) {
      uploadOutput.append(errorBox(err, 'Cannot edit'));
    }
  }

  async function load() {
    try {
      const { items, unavailable } = await api('/api/contracts');
      const selected = picker.value;
      clear(picker, ...items.map((c) => h('option', { value: c.id }, c.id)));
      if (items.some((c) => c.id === selected)) picker.value = selected;
      clear(
        listBox,
        items.length
          ? table(
              ['Id', 'Name', 'Version', 'Source', 'Messages', ''],
              items.map((c) => contractRow(c, { onTry: tryContract, onEdit: editContract })),
              { class: 'contract-list' },
            )
          : emptyState('No contracts.'),
        unavailable.length
          ? errorBox(`could not be loaded: ${unavailable.join(', ')}`, 'Stored contracts')
          : null,
      );
    } catch (err) {
      clear(listBox, errorBox(err, 'Could not load the contracts'));
    }
  }
  load().then(() => {
    if (!params.frame) return;
    if (params.contract) picker.value = params.contract;
    frame.value = params.frame;
    decode();
  });
  return () => {};
}
