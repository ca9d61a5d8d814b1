// Times and values as people read them.

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** `14:03:27` today, `21 Nov 14:03` otherwise; a dash for no time. */
export function formatTime(ms) {
  if (ms === null || ms === undefined) return '—';
  const date = new Date(ms);
  const today = new Date().toDateString() === date.toDateString();
  return today
    ? date.toLocaleTimeString([], { hour12: false })
    : date.toLocaleString([], {
        day: 'numeric',
        month: 'short',
        hour: '2-digit',
        minute: '2-digit',
        hour12: false,
      });
}

/** `12 s ago`, `5 min ago`, `3 h ago`, `2 d ago`. */
export function formatAgo(ms, now = Date.now()) {
  if (ms === null || ms === undefined) return 'never';
  const d = Math.max(0, now - ms);
  if (d < MINUTE) return `${Math.round(d / SECOND)} s ago`;
  if (d < HOUR) return `${Math.round(d / MINUTE)} min ago`;
  if (d < DAY) return `${Math.round(d / HOUR)} h ago`;
  return `${Math.round(d / DAY)} d ago`;
}

export function formatValue(value) {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(+value.toFixed(6));
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value === null || value === undefined) return '—';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** Short axis labels: `14:05` within a day, `21 Nov` beyond. */
export function formatAxisTime(ms, spanMs) {
  const date = new Date(ms);
  if (spanMs <= 2 * DAY)
    return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
  return date.toLocaleDateString([], { day: 'numeric', month: 'short' });
}

export const RANGES = [
  { label: '15 min', ms: 15 * MINUTE },
  { label: '1 h', ms: HOUR },
  { label: '24 h', ms: DAY },
];

/** Keys whose numbers are times in ms since the epoch (`at`, `lastSeen`, `changedAt`, `since`, `ts`…). */
const TIME_KEY = /(^|[a-z_])(at|At|ts|Ts|since|Since|seen|Seen|time|Time)$/;
const YEAR_2000_MS = 946_684_800_000;

/** A detail value as people read it: times named as such become times, the rest as formatValue. */
export function formatDetail(key, value) {
  if (typeof value === 'number' && value > YEAR_2000_MS && TIME_KEY.test(key)) return formatTime(value);
  return formatValue(value);
}

/**
 * A nested object (a gateway report) as `[path, text]` rows: `devices.pm-1.lastPoll`, with times
 * readable; arrays of scalars joined, deeper structures flattened.
 */
export function flattenForDisplay(value, prefix = '') {
  if (value === null || typeof value !== 'object') return [[prefix || 'value', formatDetail(prefix, value)]];
  if (Array.isArray(value) && value.every((v) => v === null || typeof v !== 'object'))
    return [[prefix || 'value', value.map(formatValue).join(', ')]];
  const rows = [];
  for (const [k, v] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object') rows.push(...flattenForDisplay(v, path));
    else rows.push([path, formatDetail(k, v)]);
  }
  return rows;
}
