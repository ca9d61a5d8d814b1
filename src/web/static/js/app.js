// The dashboard's entry: hash routing between the pages and the live-connection indicator.
// Each page's `render(main, params)` puts its own root element into `main` at once, fills it as data
// arrives, and returns a cleanup (unsubscribe, stop timers); a page left before its data arrived only
// fills its detached root.
import { drawNavCount, watchSummary } from './alarm-view.js';
import { clear, errorBox, h } from './dom.js';
import { onState } from './live.js';
import * as alarms from './pages/alarms.js';
import * as audit from './pages/audit.js';
import * as contracts from './pages/contracts.js';
import * as device from './pages/device.js';
import * as gateway from './pages/gateway.js';
import * as overview from './pages/overview.js';
import * as login from './pages/login.js';
import * as models from './pages/models.js';
import * as rules from './pages/rules.js';
import { currentUser, loadSession, signOut } from './session.js';

const LIVE_TEXT = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
  closed: 'offline',
};

/** `#/`, `#/device/<id>`, `#/gateway/<id>`, `#/contracts[?contract=&frame=]`, `#/models`, `#/rules`, `#/alarms[?status=&originator=]` → the page and its parameters. */
export function route(hash) {
  const [path = '/', search = ''] = (hash.replace(/^#/, '') || '/').split('?');
  const q = Object.fromEntries(new URLSearchParams(search));
  const dev = /^\/device\/(.+)$/.exec(path);
  if (dev) return { page: device, nav: 'overview', params: { id: decodeURIComponent(dev[1]) } };
  const gw = /^\/gateway\/(.+)$/.exec(path);
  if (gw) return { page: gateway, nav: 'overview', params: { id: decodeURIComponent(gw[1]) } };
  if (path === '/contracts') return { page: contracts, nav: 'contracts', params: q };
  if (path === '/models') return { page: models, nav: 'models', params: {} };
  if (path === '/rules') return { page: rules, nav: 'rules', params: {} };
  if (path === '/alarms') return { page: alarms, nav: 'alarms', params: q };
  if (path === '/audit') return { page: audit, nav: 'audit', params: {} };
  return { page: overview, nav: 'overview', params: {} };
}

let cleanup;

function show() {
  const main = document.getElementById('main');
  cleanup?.();
  cleanup = undefined;
  clear(main);
  const { page, nav, params } = route(location.hash);
  for (const a of document.querySelectorAll('[data-nav]'))
    a.classList.toggle('active', a.getAttribute('data-nav') === nav);
  try {
    cleanup = page.render(main, params);
  } catch (err) {
    main.append(errorBox(err));
  }
}

let lastState;
function showLiveState(state) {
  // after an interruption the page may have missed notifications: read everything again
  // (pages without live data, such as a half-typed contract, are left alone)
  if (
    state === 'live' &&
    (lastState === 'reconnecting' || lastState === 'closed') &&
    route(location.hash).page.live
  )
    show();
  lastState = state;
  const el = document.getElementById('live');
  el.dataset.state = state;
  el.textContent = LIVE_TEXT[state] ?? state;
}

/** Name, role and a sign-out button in the header; the role also hides the controls it may not use (CSS). */
function drawUser(user) {
  document.body.dataset.role = user.role;
  const out = h(
    'button',
    {
      type: 'button',
      class: 'secondary',
      name: 'logout',
      onclick: async () => {
        await signOut().catch(() => undefined);
        location.reload();
      },
    },
    'Sign out',
  );
  clear(
    document.getElementById('who'),
    h('span', { class: 'user' }, user.username),
    ' ',
    h('span', { class: 'badge role' }, user.role),
    ' ',
    out,
  );
}

// An expired or revoked session shows the sign-in page again.
window.addEventListener('mqiot:signed-out', () => {
  if (currentUser()) location.reload();
});

async function start() {
  const main = document.getElementById('main');
  let user;
  try {
    user = await loadSession();
  } catch (err) {
    clear(main, errorBox(err));
    return;
  }
  if (!user) {
    clear(main);
    login.render(main, { onSignedIn: () => location.reload() });
    return;
  }
  drawUser(user);
  // the live stream needs the session, so it starts only now
  onState(showLiveState);
  watchSummary(document.getElementById('alarm-count'), drawNavCount);
  window.addEventListener('hashchange', show);
  show();
}

void start();
