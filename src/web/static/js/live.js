// One server-sent events connection (/api/stream) shared by every page. Pages subscribe to a type
// (telemetry, event, command) and unsubscribe when they go away; a dropped connection is opened again.
//
// The stream is read with fetch, not EventSource: Chromium counts an open EventSource as a network
// fetch that never finishes, and `chromium --headless --screenshot --virtual-time-budget=…` (which
// lets virtual time run only while no fetch is pending) then never takes its picture. A fetch whose
// answer has arrived and whose body is being read does not hold virtual time, so the page settles.
import { eventStreamParser } from './event-stream.js';

const STREAM_PATH = '/api/stream';
const listeners = { telemetry: new Set(), event: new Set(), command: new Set() };
const stateListeners = new Set();
let started = false;
let state = 'connecting';
/** After a dropped connection (EventSource waits about as long). */
const RETRY_MS = 2000;
/** After an answer that is not an event stream (e.g. a proxy's error page while the platform restarts). */
const RETRY_CLOSED_MS = 5000;

function setState(next) {
  state = next;
  for (const fn of stateListeners) fn(state);
}

function dispatch(type, text) {
  if (!listeners[type]) return;
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    return;
  }
  for (const fn of listeners[type]) fn(data);
}

async function connect() {
  let res;
  try {
    res = await fetch(STREAM_PATH, { headers: { accept: 'text/event-stream' }, cache: 'no-store' });
  } catch {
    setState('reconnecting');
    return void setTimeout(connect, RETRY_MS);
  }
  const type = res.headers.get('content-type') ?? '';
  if (!res.ok || !res.body || !type.startsWith('text/event-stream')) {
    void res.body?.cancel().catch(() => undefined);
    // an expired or revoked session: the app shows the sign-in page again
    if (res.status === 401) window.dispatchEvent(new window.CustomEvent('mqiot:signed-out'));
    setState('closed');
    return void setTimeout(connect, RETRY_CLOSED_MS);
  }
  setState('live');
  const push = eventStreamParser(dispatch);
  const decoder = new window.TextDecoder();
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      push(decoder.decode(value, { stream: true }));
    }
  } catch {
    // the connection broke: same as its end
  }
  setState('reconnecting');
  setTimeout(connect, RETRY_MS);
}

function start() {
  if (started) return;
  started = true;
  void connect();
}

/** Calls `fn(data)` for each notification of `type`; returns the function that stops it. */
export function subscribe(type, fn) {
  start();
  listeners[type].add(fn);
  return () => listeners[type].delete(fn);
}

/** Calls `fn(state)` now and on each change: connecting, live, reconnecting, closed. */
export function onState(fn) {
  start();
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
