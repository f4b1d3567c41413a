// The overview: a banner, one row per app (health, last good backup, next run, live progress,
// a 30-day strip), worst first, filtered by name; live through /api/events.
import { all, api, enc } from './api.js';
import { bytes, el, relTime, replace } from './format.js';

const DAY = 86400000;

// Lower is worse: stale, failing, unhealthy, then fine.
export function rank(app) {
  if (app.stale) return 0;
  if (app.last_backup && app.last_backup.state === 'failed') return 1;
  if (app.up === false) return 2;
  return 3;
}

export function verdict(app) {
  if (app.stale) return { text: 'stale', cls: 'bad' };
  if (app.last_backup && app.last_backup.state === 'failed') return { text: 'failing', cls: 'bad' };
  if (app.up === false) return { text: 'unreachable', cls: 'warn' };
  if (app.up === null) return { text: 'not probed yet', cls: 'run' };
  return { text: 'ok', cls: 'ok' };
}

// 30 cells, oldest first: running, good (a success that day), failed, missed (stale that day).
export function strip(app, jobs, now = Date.now()) {
  const today = Math.floor(now / DAY);
  const cells = [];
  for (let d = today - 29; d <= today; d++) cells.push({ day: d, state: 'none' });
  for (const j of jobs) {
    const t = Date.parse(j.finished_at || j.started_at || j.created_at);
    const idx = Math.floor(t / DAY) - (today - 29);
    if (idx < 0 || idx > 29) continue;
    const c = cells[idx];
    if (j.state === 'running' || j.state === 'queued') c.state = 'running';
    else if (j.state === 'succeeded' && c.state !== 'running') c.state = 'good';
    else if (j.state === 'failed' && c.state === 'none') c.state = 'failed';
  }
  if (app.stale_since) {
    const from = Math.floor(Date.parse(app.stale_since) / DAY);
    for (const c of cells) if (c.day >= from && c.state === 'none') c.state = 'missed';
  }
  return cells;
}

export function progressText(job, rate) {
  const parts = [job.state === 'queued' ? 'queued' : job.phase || job.state];
  if (job.bytes_total) parts.push(Math.floor((100 * job.bytes_done) / job.bytes_total) + '%');
  else if (job.bytes_done) parts.push(bytes(job.bytes_done));
  if (rate !== undefined && rate > 0) parts.push((rate / 1e6).toFixed(1) + ' MB/s');
  return parts.join(' · ');
}

// Tracks the bytes of running jobs between events, for MB/s.
export function rateTracker() {
  const seen = new Map();
  return (job) => {
    const now = performance.now();
    const prev = seen.get(job.id);
    seen.set(job.id, { bytes: job.bytes_done, t: now });
    if (!prev || now <= prev.t || job.bytes_done < prev.bytes) return undefined;
    return ((job.bytes_done - prev.bytes) * 1000) / (now - prev.t);
  };
}

function progressCell(job, rate) {
  const box = el('div', { class: 'live', 'aria-live': 'polite' });
  if (!job || (job.state !== 'running' && job.state !== 'queued')) {
    box.append(el('span', { class: 'label' }, 'Now'), el('span', {}, 'idle'));
    return box;
  }
  const bar = el('progress', { max: job.bytes_total || 1, 'aria-label': 'Backup progress' });
  if (job.bytes_total) bar.value = job.bytes_done;
  else bar.removeAttribute('value');
  box.append(el('span', { class: 'label' }, 'Backing up'), bar,
    el('span', { class: 'progress-text' }, progressText(job, rate)));
  return box;
}

function row(app, jobs, active, rate) {
  const v = verdict(app);
  const last = app.last_success;
  const cells = strip(app, jobs).map((c) => el('span', { class: 'cell ' + c.state, title: new Date(c.day * DAY).toISOString().slice(0, 10) + ': ' + c.state }));
  return el('article', { class: 'app-row', dataset: { app: app.name } },
    el('div', {},
      el('a', { class: 'name', href: '#/apps/' + enc(app.name) }, app.name),
      ' ', el('span', { class: 'badge ' + v.cls }, v.text)),
    el('div', {}, el('span', { class: 'label' }, 'Last good backup'),
      last ? relTime(last.finished_at) + ' · ' + bytes(last.size) : 'never'),
    el('div', {}, el('span', { class: 'label' }, 'Next run'), app.next_run_at ? relTime(app.next_run_at) : '–'),
    progressCell(active, rate),
    el('div', { class: 'strip', role: 'img', 'aria-label': 'Last 30 days' }, cells));
}

export async function renderOverview(main, live) {
  const banner = el('div', { class: 'banner', id: 'banner', role: 'status' }, 'Loading…');
  const filter = el('input', { id: 'filter', type: 'search', placeholder: 'Filter by name', autocomplete: 'off' });
  const list = el('div', { class: 'apps', id: 'apps' });
  replace(main, el('h1', {}, 'Overview'), banner,
    el('div', { class: 'toolbar' }, el('label', { for: 'filter' }, 'Filter by name', filter)), list);
  let apps = [];
  const jobsOf = new Map();
  const active = new Map(); // app -> running/queued job
  const rate = rateTracker();
  const rates = new Map();

  function draw() {
    const q = filter.value.trim().toLowerCase();
    const shown = apps.filter((a) => a.name.toLowerCase().includes(q))
      .sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
    const attention = apps.filter((a) => rank(a) < 3).length;
    const running = [...active.values()].filter((j) => j.state === 'running');
    if (running.length) {
      banner.className = 'banner running';
      banner.textContent = 'Backing up now: ' + running.map((j) => j.app).join(', ');
    } else if (attention) {
      banner.className = 'banner attention';
      banner.textContent = attention === 1 ? '1 app needs attention' : attention + ' apps need attention';
    } else {
      banner.className = 'banner ok';
      banner.textContent = apps.length ? 'Everything is backed up' : 'No apps registered yet';
    }
    replace(list, shown.map((a) => row(a, jobsOf.get(a.name) || [], active.get(a.name), rates.get(a.name))));
    if (!apps.length) list.append(el('p', {}, el('a', { href: '#/register' }, 'Register an app'), ' to start.'));
  }

  async function load() {
    apps = await all('/api/apps');
    await Promise.all(apps.map(async (a) => {
      const page = (await api('GET', '/api/jobs?kind=backup&limit=200&app=' + enc(a.name))).items;
      jobsOf.set(a.name, page);
      const running = page.find((j) => j.state === 'running' || j.state === 'queued');
      if (running) active.set(a.name, running);
      else active.delete(a.name);
    }));
    draw();
  }

  let reload = null;
  const soon = () => {
    clearTimeout(reload);
    reload = setTimeout(() => load().catch(() => {}), 300);
  };
  const off = live.on((type, data) => {
    if (type === 'job' && data.kind === 'backup') {
      if (data.state === 'running' || data.state === 'queued') {
        active.set(data.app, data);
        rates.set(data.app, rate(data));
        draw();
      } else {
        active.delete(data.app);
        soon();
      }
    } else if (type !== 'ready' && type !== 'job') {
      soon();
    }
  });
  filter.addEventListener('input', draw);
  await load();
  return () => {
    off();
    clearTimeout(reload);
  };
}
