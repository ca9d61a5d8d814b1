// Who is signed in. The session itself is an HttpOnly cookie set by POST /api/auth/login with
// `cookie: true`: scripts never see the token, so injected script could not carry it away.
import { api } from './api.js';

const RANK = { viewer: 0, operator: 1, admin: 2 };
let me;

/** The signed-in user `{ username, role }`, or undefined when there is no valid session. */
export async function loadSession() {
  try {
    me = await api('/api/auth/me');
  } catch (err) {
    if (err.status === 401) me = undefined;
    else throw err;
  }
  return me;
}

export function currentUser() {
  return me;
}

/** True when the signed-in user's role is `role` or above. */
export function can(role) {
  return me !== undefined && RANK[me.role] >= RANK[role];
}

export async function signIn(username, password) {
  const answer = await api('/api/auth/login', { method: 'POST', json: { username, password, cookie: true } });
  me = answer.user;
  return me;
}

export async function signOut() {
  try {
    await api('/api/auth/logout', { method: 'POST' });
  } finally {
    me = undefined;
  }
}
