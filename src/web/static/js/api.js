// The platform's HTTP API from the browser. Failures become ApiError with a message a user can read:
// the API's own `{ error: { code, message } }`, or what went wrong on the way.

export class ApiError extends Error {
  constructor(message, { status, code, details, cause } = {}) {
    super(message, { cause });
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/**
 * `api('/api/devices')`, `api('/api/x', { method: 'POST', json: {...} })` or `{ text, type }` for a raw
 * body. Resolves with the parsed JSON answer.
 */
export async function api(path, { method = 'GET', json, text, type } = {}) {
  // The session is an HttpOnly cookie the browser adds by itself. The custom header marks the request
  // as our own script's: a cross-site form cannot send it (the server refuses cookie writes without it
  // or a matching Origin).
  const init = { method, headers: { accept: 'application/json', 'x-requested-with': 'mqiot' } };
  if (json !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (text !== undefined) {
    init.headers['content-type'] = type ?? 'text/plain';
    init.body = text;
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(`cannot reach the platform (${err.message})`, { cause: err });
  }
  if (res.status === 204) return null;
  let body;
  try {
    body = await res.json();
  } catch (err) {
    throw new ApiError(`${method} ${path}: HTTP ${res.status}, answer is not JSON`, {
      status: res.status,
      cause: err,
    });
  }
  if (res.status === 401 && path !== '/api/auth/login') {
    // the session expired or was revoked: back to the sign-in page
    window.dispatchEvent(new window.CustomEvent('mqiot:signed-out'));
  }
  if (!res.ok) {
    const e = body?.error;
    const message = e?.message ? `${e.message}${e.code ? ` (${e.code})` : ''}` : `HTTP ${res.status}`;
    throw new ApiError(message, { status: res.status, code: e?.code, details: e?.details });
  }
  return body;
}

/** Query string from an object, leaving out undefined values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
