// The server-sent events format, read from a fetch body: `event:` and `data:` lines, a blank line
// ends an event, lines starting with `:` are comments (the server's keep-alives). Only what
// /api/stream writes is needed: no `id:` (nothing is replayed after a reconnect; the pages read
// everything again instead) and `\n` or `\r\n` line ends.

/**
 * Returns `push(text)`, which takes the body as it arrives, in chunks cut anywhere, and calls
 * `onEvent(type, data)` for each complete event (`type` is `message` when the event names none).
 */
export function eventStreamParser(onEvent) {
  let pending = '';
  let type = '';
  let data = [];
  const line = (text) => {
    if (text === '') {
      if (data.length > 0) onEvent(type || 'message', data.join('\n'));
      type = '';
      data = [];
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
  };
  return (chunk) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop();
    for (const l of lines) line(l.endsWith('\r') ? l.slice(0, -1) : l);
  };
}
