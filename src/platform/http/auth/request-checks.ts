// Pure checks on a request's headers: which Host names are ours (against DNS rebinding), whether a
// cookie-authenticated write comes from our own pages (against CSRF), and where the credentials are.
import { isIP } from 'node:net';

export const SESSION_COOKIE = 'mqiot_session';
/** The dashboard sends this on writes; a cross-site form cannot set a header, and we grant no CORS. */
export const CSRF_HEADER = 'x-requested-with';

const LOCAL_NAMES = ['localhost', '*.localhost'];

/** `host[:port]` or `[v6]:port` → the host name in lower case, without brackets; undefined if unreadable. */
export function hostName(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  try {
    const name = new URL(`http://${hostHeader}`).hostname.toLowerCase();
    return name.startsWith('[') ? name.slice(1, -1) : name;
  } catch {
    return undefined;
  }
}

/**
 * A DNS rebinding attack needs a Host name the attacker controls; an IP address or a name of this
 * machine cannot be one. So IP literals, localhost names, this machine's names and the configured
 * names are allowed; `*` allows everything and `*.example.com` a domain's sub-names.
 */
export function hostAllowed(hostHeader: string | undefined, allowed: readonly string[]): boolean {
  const name = hostName(hostHeader);
  if (name === undefined) return false;
  if (isIP(name)) return true;
  return [...LOCAL_NAMES, ...allowed].some((pattern) => {
    const p = pattern.toLowerCase();
    if (p === '*') return true;
    if (p.startsWith('*.')) return name.endsWith(p.slice(1));
    return name === p;
  });
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 1) continue;
    const name = part.slice(0, eq).trim();
    try {
      cookies[name] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      // a cookie we cannot read is not ours
    }
  }
  return cookies;
}

export type Credential = { token: string; from: 'bearer' | 'cookie' } | { malformed: true } | undefined;

/** The bearer token, else the session cookie. A present but unusable Authorization header is malformed. */
export function credentialFrom(headers: { authorization?: string; cookie?: string }): Credential {
  if (headers.authorization !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization);
    return m ? { token: m[1]!, from: 'bearer' } : { malformed: true };
  }
  const cookie = parseCookies(headers.cookie)[SESSION_COOKIE];
  return cookie ? { token: cookie, from: 'cookie' } : undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method.toUpperCase());
}

/**
 * A write authenticated by cookie must come from our own origin: an Origin header naming this host, or
 * (for clients that send no Origin) the custom header, which a cross-site page can only send after a
 * CORS preflight that we never grant.
 */
export function sameOriginWrite(headers: {
  origin?: string;
  host?: string;
  [CSRF_HEADER]?: string;
}): boolean {
  if (headers.origin !== undefined) {
    if (headers.origin === 'null') return false;
    try {
      const origin = new URL(headers.origin);
      // the Host header may spell out the default port the Origin leaves off
      const host = new URL(`${origin.protocol}//${headers.host ?? ''}`);
      return origin.host === host.host;
    } catch {
      return false;
    }
  }
  return headers[CSRF_HEADER] !== undefined;
}

export function sessionCookie(token: string, maxAgeS: number, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${encodeURIComponent(token)}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${Math.max(0, Math.floor(maxAgeS))}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}
