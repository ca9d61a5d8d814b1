// Command and query panels with each record's state transitions (pending → sent → executed / failed),
// updated live: on the device page a form for a control command (an encoder of the device's contract,
// or `poll`) and a status query to its gateway; on the gateway page its status queries.
import { api, query } from '../api.js';
import { clear, errorBox, h } from '../dom.js';
import { formatTime } from '../format.js';

const LIST_LIMIT = 10;

/** The POST's answer and the live notifications race; keep whichever has seen more transitions. */
function isNewer(next, known) {
  if (!known) return true;
  const a = next.history?.length ?? 0;
  const b = known.history?.length ?? 0;
  return a !== b ? a > b : next.updatedAt >= known.updatedAt;
}

function transitions(record) {
  const steps = (record.history ?? []).map((t) =>
    h(
      'li',
      { class: `step st-${t.state}`, 'data-state': t.state },
      h('span', { class: 'st' }, t.attempt && t.state !== 'pending' ? `${t.state} #${t.attempt}` : t.state),
      ' ',
      h('time', { class: 'muted' }, formatTime(t.at)),
    ),
  );
  return h('ol', { class: 'transitions' }, steps);
}

function commandItem(record) {
  const params = Object.keys(record.params ?? {}).length ? JSON.stringify(record.params) : '';
  const outcome =
    record.error !== null && record.error !== undefined
      ? h('div', { class: 'error small' }, record.error)
      : record.result !== null && record.result !== undefined
        ? h(
            'details',
            { class: 'result small' },
            h('summary', {}, 'answer'),
            h('pre', {}, JSON.stringify(record.result, null, 2)),
          )
        : null;
  return h(
    'li',
    { class: 'command', 'data-command': record.id, 'data-state': record.state },
    h(
      'div',
      {},
      h('strong', {}, record.kind === 'query' ? `status query (${record.gatewayId})` : record.action),
      params ? h('code', { class: 'small' }, ` ${params}`) : null,
      ' ',
      h('span', { class: `badge st-${record.state}` }, record.state),
      record.requestedBy ? h('span', { class: 'muted small by' }, ` by ${record.requestedBy}`) : null,
    ),
    transitions(record),
    outcome,
  );
}

/** Recent commands or queries that `belongs` to the page, newest first, kept current by `update`. */
function recordList(belongs, filter) {
  const records = new Map();
  const element = h('ul', { class: 'commands' });
  const draw = () => {
    const items = [...records.values()].sort((a, b) => b.createdAt - a.createdAt).slice(0, LIST_LIMIT);
    clear(element, items.length ? items.map(commandItem) : h('li', { class: 'muted' }, 'None yet.'));
  };
  const put = (record) => {
    if (isNewer(record, records.get(record.id))) records.set(record.id, record);
    draw();
  };
  return {
    element,
    put,
    async load() {
      const { items } = await api(`/api/commands${query({ ...filter, limit: LIST_LIMIT })}`);
      for (const r of items) records.set(r.id, r);
      draw();
    },
    /** A command notification from the live stream: kept if it belongs here or was sent from here. */
    update(record) {
      if (belongs(record) || records.has(record.id)) put(record);
    },
  };
}

/** POSTs a command or query; the record goes to `list`, a refusal into `status` as a message. */
async function send(list, status, path, json) {
  clear(status);
  try {
    list.put(await api(path, { method: 'POST', json }));
  } catch (err) {
    status.append(errorBox(err, 'Not sent'));
  }
}

/** The gateway page's status queries: a button and the recent queries with their transitions. */
export function queryPanel(gatewayId) {
  const list = recordList((r) => r.kind === 'query' && r.gatewayId === gatewayId, {
    gateway: gatewayId,
    kind: 'query',
  });
  const status = h('div');
  const button = h(
    'button',
    {
      type: 'button',
      name: 'query',
      onclick: () => send(list, status, `/api/gateways/${encodeURIComponent(gatewayId)}/queries`, {}),
    },
    'Query status',
  );
  return {
    element: h('div', { class: 'command-panel' }, h('div', { class: 'row' }, button), status, list.element),
    load: list.load,
    update: list.update,
  };
}

export function commandPanel(deviceId) {
  const list = recordList((r) => r.deviceId === deviceId, { device: deviceId });
  const action = h(
    'select',
    { name: 'action', 'aria-label': 'command' },
    h('option', { value: 'poll' }, 'poll'),
  );
  const params = h('textarea', {
    name: 'params',
    rows: 2,
    placeholder: 'parameters as JSON, e.g. {"address": 8, "value": 0}',
    'aria-label': 'parameters (JSON)',
  });
  const formStatus = h('div');
  let device;

  const form = h(
    'form',
    {
      class: 'command-form',
      onsubmit: (e) => {
        e.preventDefault();
        let parsed;
        try {
          parsed = params.value.trim() ? JSON.parse(params.value) : undefined;
          if (
            parsed !== undefined &&
            (typeof parsed !== 'object' || Array.isArray(parsed) || parsed === null)
          )
            throw new Error('must be a JSON object');
        } catch (err) {
          clear(formStatus, errorBox(err, 'Parameters'));
          return;
        }
        send(list, formStatus, `/api/devices/${encodeURIComponent(deviceId)}/commands`, {
          action: action.value,
          params: parsed,
        });
      },
    },
    h('div', { class: 'row' }, action, h('button', { type: 'submit' }, 'Send command')),
    params,
    h(
      'div',
      { class: 'row' },
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          name: 'query',
          onclick: () => {
            if (device?.gatewayId)
              send(list, formStatus, `/api/gateways/${encodeURIComponent(device.gatewayId)}/queries`, {
                devices: [deviceId],
              });
            else clear(formStatus, errorBox('this device has no gateway to query'));
          },
        },
        'Query gateway status',
      ),
    ),
    formStatus,
  );

  return {
    element: h('div', { class: 'command-panel' }, form, list.element),
    /** Fills the action list from the device's contract (its encoders). */
    async setDevice(d) {
      device = d;
      if (!d.contractId || action.options.length > 1) return;
      try {
        const { items } = await api('/api/contracts');
        const contract = items.find((c) => c.id === d.contractId);
        for (const m of contract?.messages ?? []) action.append(h('option', { value: m }, m));
      } catch {
        // the form still offers `poll`; the contracts page shows why contracts cannot be read
      }
    },
    load: list.load,
    update: list.update,
  };
}
