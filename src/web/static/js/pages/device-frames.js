// The device page's frames that failed to decode: what the contract said and where, with a link that
// opens the frame in the contracts page's "try a frame" box. Shown only when there are any.
import { api, query } from '../api.js';
import { clear, h } from '../dom.js';
import { formatTime } from '../format.js';

const LIMIT = 5;

/** `#/contracts?contract=…&frame=…`: the contracts page decodes it on arrival. */
export function tryLink(contractId, rawHex) {
  const q = new URLSearchParams({ frame: rawHex.match(/.{1,2}/g)?.join(' ') ?? rawHex });
  if (contractId) q.set('contract', contractId);
  return `#/contracts?${q}`;
}

function frameItem(f) {
  return h(
    'li',
    { class: 'bad-frame' },
    h('time', { class: 'muted' }, formatTime(f.ts)),
    ' ',
    h('span', { class: 'reason' }, f.error ? `byte ${f.error.offset}: ${f.error.reason}` : 'not decoded'),
    ' ',
    h('a', { href: tryLink(f.contractId, f.rawHex) }, 'try it'),
    h('div', {}, h('code', { class: 'small' }, f.rawHex)),
  );
}

export function badFramesPanel(deviceId) {
  const list = h('ul', { class: 'events' });
  const element = h(
    'div',
    { class: 'bad-frames', hidden: true },
    h('h2', {}, 'Frames that failed to decode'),
    list,
  );
  let timer;
  async function load() {
    const { items } = await api(
      `/api/devices/${encodeURIComponent(deviceId)}/frames${query({ errors: true, limit: LIMIT })}`,
    );
    element.hidden = items.length === 0;
    clear(list, items.map(frameItem));
  }
  return {
    element,
    load,
    /** A frame of this device failed: read the list again (once per burst). */
    failed() {
      clearTimeout(timer);
      timer = setTimeout(() => load().catch(() => {}), 300);
    },
    dispose: () => clearTimeout(timer),
  };
}
