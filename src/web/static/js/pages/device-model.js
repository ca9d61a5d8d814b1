// The device page's model panel: which model the device is, how sure the platform is and how it knows
// (declared by the gateway, set by an operator, or identified from its frames), a choice to set another,
// and the model's named commands.
import { api } from '../api.js';
import { clear, errorBox, h } from '../dom.js';
import { percent } from './models.js';

const HOW = {
  declared: 'declared by its gateway',
  operator: 'set by an operator',
  detected: 'identified from its frames',
};

export function modelPanel(id) {
  const element = h('div', { class: 'device-model' });
  const base = `/api/devices/${encodeURIComponent(id)}`;
  let models = [];

  async function set(modelId) {
    try {
      await api(`${base}/model`, { method: 'PUT', json: { modelId: modelId || null } });
      await load();
    } catch (err) {
      element.append(errorBox(err, 'Cannot set the model'));
    }
  }

  async function run(name) {
    try {
      const record = await api(`${base}/model-commands/${encodeURIComponent(name)}`, {
        method: 'POST',
        json: {},
      });
      element.append(h('p', { class: 'muted' }, `${name}: command ${record.id} ${record.state}`));
    } catch (err) {
      element.append(errorBox(err, name));
    }
  }

  function draw(record, info) {
    const picker = h(
      'select',
      { name: 'model', 'aria-label': 'model', onchange: (e) => set(e.target.value) },
      h('option', { value: '' }, '— none —'),
      models.map((m) => h('option', { value: m.id }, m.name ? `${m.id} (${m.name})` : m.id)),
    );
    picker.value = record?.modelId ?? '';
    clear(
      element,
      record
        ? h(
            'p',
            { class: 'model-line' },
            h('strong', { class: 'model-id' }, record.modelId),
            info?.name ? ` ${info.name}` : '',
            ' — ',
            h(
              'span',
              { class: 'confidence', 'data-confidence': record.confidence },
              percent(record.confidence),
            ),
            ' sure, ',
            h('span', { class: 'how' }, HOW[record.identifiedBy] ?? record.identifiedBy),
          )
        : h('p', { class: 'muted model-line' }, 'No model yet: its frames have not told which one it is.'),
      h('label', { class: 'needs-operator' }, 'Model ', picker),
      info?.commands?.length
        ? h(
            'div',
            { class: 'model-commands needs-operator' },
            info.commands.map((c) =>
              h(
                'button',
                {
                  type: 'button',
                  class: 'secondary',
                  name: `model-command-${c.name}`,
                  title: c.description ?? c.message,
                  onclick: () => run(c.name),
                },
                c.name,
              ),
            ),
          )
        : null,
    );
  }

  async function load() {
    try {
      if (models.length === 0) models = (await api('/api/models')).items;
      const { model, info } = await api(`${base}/model`);
      draw(model, info);
    } catch (err) {
      clear(element, errorBox(err, 'Could not load the model'));
    }
  }
  return { element, load };
}
