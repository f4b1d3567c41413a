// The API client: the admin token lives in sessionStorage and goes out as a bearer header (no
// cookies). Problems come back as {status, problem}; a 401 sends the user to the sign-in.
const KEY = 'respaldo.token';

export const token = () => sessionStorage.getItem(KEY);
export const setToken = (t) => sessionStorage.setItem(KEY, t);
export const clearToken = () => sessionStorage.removeItem(KEY);

let onUnauthorized = () => {};
export function whenUnauthorized(f) {
  onUnauthorized = f;
}

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && problem.detail) || 'HTTP ' + status);
    this.status = status;
    this.problem = problem || {};
  }
}

export async function api(method, path, body, tokenOverride) {
  const headers = { Authorization: 'Bearer ' + (tokenOverride || token() || '') };
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, { detail: 'respaldo could not be reached: ' + e.message });
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    if (res.status === 401 && !tokenOverride) onUnauthorized();
    throw new ApiError(res.status, data);
  }
  return data;
}

// Every page of a listing ({items, next_cursor}).
export async function all(path) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api('GET', path + sep + 'limit=500' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

export const enc = encodeURIComponent;

// GET /api/events read with fetch (EventSource cannot send the bearer header); reconnects with
// Last-Event-ID after a pause, and says "reset" when the server could not resume.
export function streamEvents(onEvent, onState) {
  const ctl = new AbortController();
  let lastId = null;
  (async () => {
    while (!ctl.signal.aborted) {
      try {
        const headers = { Authorization: 'Bearer ' + (token() || '') };
        if (lastId) headers['Last-Event-ID'] = lastId;
        const res = await fetch('/api/events', { headers, signal: ctl.signal, cache: 'no-store' });
        if (res.status === 401) {
          onUnauthorized();
          return;
        }
        if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
        onState(true);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const frame = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const ev = { event: 'message', data: '' };
            for (const line of frame.split('\n')) {
              if (line.startsWith(':')) continue;
              const c = line.indexOf(':');
              const k = c < 0 ? line : line.slice(0, c);
              const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
              if (k === 'id') lastId = v;
              else if (k === 'event') ev.event = v;
              else if (k === 'data') ev.data += v;
            }
            if (ev.data) {
              try {
                onEvent(ev.event, JSON.parse(ev.data));
              } catch (e) {
                console.warn('event not understood', e);
              }
            }
          }
        }
      } catch (e) {
        if (ctl.signal.aborted) return;
      }
      onState(false);
      await new Promise((r) => setTimeout(r, 2000));
    }
  })();
  return () => ctl.abort();
}
