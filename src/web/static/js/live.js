// One server-sent events connection (/api/stream) shared by every page. Pages subscribe to a type
// (telemetry, event, command) and unsubscribe when they go away; the browser reconnects by itself
// (and we do when it gives up).

const listeners = { telemetry: new Set(), event: new Set(), command: new Set() };
const stateListeners = new Set();
let source;
let state = 'connecting';
const RETRY_CLOSED_MS = 5000;

function setState(next) {
  state = next;
  for (const fn of stateListeners) fn(state);
}

function connect() {
  source = new EventSource('/api/stream');
  source.addEventListener('open', () => setState('live'));
  // EventSource retries on its own after a network error, but gives up (CLOSED) when an answer is not
  // an event stream (e.g. a proxy's error page while the platform restarts): then we start over.
  source.addEventListener('error', () => {
    if (source.readyState !== EventSource.CLOSED) return setState('reconnecting');
    setState('closed');
    setTimeout(connect, RETRY_CLOSED_MS);
  });
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

/**
 * `soon()` runs `fn` once, `delayMs` after the first call of a burst: one read per burst of
 * notifications, and a steady stream of them cannot postpone it forever. `cancel()` on leaving the page.
 */
export function batched(fn, delayMs) {
  let timer;
  return {
    soon() {
      timer ??= setTimeout(() => {
        timer = undefined;
        fn();
      }, delayMs);
    },
    cancel() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
