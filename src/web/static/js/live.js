// One server-sent events connection (/api/stream) shared by every page. Pages subscribe to a type
// (telemetry, event, command) and unsubscribe when they go away; the browser reconnects by itself.

const listeners = { telemetry: new Set(), event: new Set(), command: new Set() };
const stateListeners = new Set();
let source;
let state = 'connecting';

function setState(next) {
  state = next;
  for (const fn of stateListeners) fn(state);
}

function connect() {
  source = new EventSource('/api/stream');
  source.addEventListener('open', () => setState('live'));
  // EventSource retries on its own; readyState tells whether it gave up (CLOSED) or is retrying.
  source.addEventListener('error', () =>
    setState(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting'),
  );
  for (const type of Object.keys(listeners)) {
    source.addEventListener(type, (e) => {
      let data;
      try {
        data = JSON.parse(e.data);
      } catch {
        return;
      }
      for (const fn of listeners[type]) fn(data);
    });
  }
}

/** Calls `fn(data)` for each notification of `type`; returns the function that stops it. */
export function subscribe(type, fn) {
  if (!source) connect();
  listeners[type].add(fn);
  return () => listeners[type].delete(fn);
}

/** Calls `fn(state)` now and on each change: connecting, live, reconnecting, closed. */
export function onState(fn) {
  if (!source) connect();
  stateListeners.add(fn);
  fn(state);
  return () => stateListeners.delete(fn);
}
