// DOM and text helpers. Everything from the API becomes text nodes (never HTML).

// el('td', {class: 'x', dataset: {label: 'Size'}}, 'text', childNode, ...)
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'text') node.textContent = String(v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export function bytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return (i === 0 ? String(v) : v.toFixed(v < 10 ? 1 : 0)) + ' ' + units[i];
}

export function relTime(iso, now = Date.now()) {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return String(iso);
  const s = Math.round((t - now) / 1000);
  const abs = Math.abs(s);
  const fmt = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
  if (abs < 60) return fmt.format(s, 'second');
  if (abs < 3600) return fmt.format(Math.round(s / 60), 'minute');
  if (abs < 86400) return fmt.format(Math.round(s / 3600), 'hour');
  return fmt.format(Math.round(s / 86400), 'day');
}

export function when(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 60) return seconds + ' s';
  if (seconds < 3600) return Math.floor(seconds / 60) + ' min ' + (seconds % 60) + ' s';
  return Math.floor(seconds / 3600) + ' h ' + Math.floor((seconds % 3600) / 60) + ' min';
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const pad = (v) => String(v).padStart(2, '0');

// The common shapes of a cron expression in words; anything else is shown as it is.
export function cronWords(expr) {
  const macros = {
    '@hourly': 'every hour', '@daily': 'every day at 00:00', '@midnight': 'every day at 00:00',
    '@weekly': 'every Sunday at 00:00', '@monthly': 'on day 1 of every month at 00:00',
    '@yearly': 'every 1 January at 00:00', '@annually': 'every 1 January at 00:00',
  };
  const e = String(expr || '').trim();
  if (macros[e]) return macros[e];
  const f = e.split(/\s+/);
  if (f.length !== 5) return e;
  const [min, hour, dom, mon, dow] = f;
  const num = (s) => /^\d+$/.test(s);
  if (num(min) && hour === '*' && dom === '*' && mon === '*' && dow === '*')
    return 'every hour at minute ' + min;
  if (!num(min) || !num(hour)) return e;
  const at = 'at ' + pad(hour) + ':' + pad(min);
  if (dom === '*' && mon === '*' && dow === '*') return 'every day ' + at;
  if (dom === '*' && mon === '*' && /^[0-7]$/.test(dow)) return 'every ' + DAYS[Number(dow) % 7] + ' ' + at;
  if (dom === '*' && mon === '*' && dow === '1-5') return 'every weekday ' + at;
  if (num(dom) && mon === '*' && dow === '*') return 'on day ' + dom + ' of every month ' + at;
  return e;
}
