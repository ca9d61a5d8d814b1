// Building the DOM from data. Text always goes in as text nodes (never as HTML): device names, point
// names and decode errors come from devices and must not become markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) {
      // handlers are our functions; an `on…` attribute from a string would be a script
      if (typeof value !== 'function') throw new TypeError(`${key}: expected a function`);
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class' && el instanceof HTMLElement) el.className = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** Appends children: nodes as they are, strings and numbers as text, arrays flattened, null skipped. */
export function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** `h('a', { href: '#/' }, 'text', otherNode)`: an HTML element. */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** The same for SVG elements (namespaced). */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Replaces the element's children (same rules as `append`). */
export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A readable message for an API failure or any other error, as a DOM node. */
export function errorBox(err, prefix) {
  const message = err instanceof Error ? err.message : String(err);
  return h('div', { class: 'error', role: 'alert' }, prefix ? `${prefix}: ${message}` : message);
}

export function emptyState(text) {
  return h('p', { class: 'empty' }, text);
}

/** Fills a list with one item per entry, or with a single muted item saying `noneText`. */
export function fillList(list, items, item, noneText) {
  return clear(list, items.length ? items.map(item) : h('li', { class: 'muted' }, noneText));
}

/** Side-by-side panels, each `[heading, element]`. */
export function columns(...panels) {
  return h(
    'div',
    { class: 'columns' },
    ...panels.map(([heading, element]) => h('div', {}, h('h2', {}, heading), element)),
  );
}

/** The link back to the overview that heads a detail page. */
export function backToOverview() {
  return h('p', {}, h('a', { href: '#/' }, '← Overview'));
}

/** A two-column table of label → value; values that are null or empty show as a dash. */
export function definitionList(rows) {
  return h(
    'dl',
    { class: 'props' },
    rows.map(([label, value]) => [
      h('dt', {}, label),
      h('dd', {}, value === null || value === undefined || value === '' ? '—' : value),
    ]),
  );
}

export function table(headers, rows, attrs = {}) {
  return h(
    'table',
    attrs,
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        headers.map((label) => h('th', {}, label)),
      ),
    ),
    h('tbody', {}, rows),
  );
}

export function badge(online) {
  return h(
    'span',
    { class: `badge ${online ? 'on' : 'off'}`, 'data-online': String(online) },
    online ? 'online' : 'offline',
  );
}
