// One app: details, live job, actions (back up, verify, cancel, edit, delete), the catalog with
// signed downloads, the retention plan with reasons and the job history with errors explained.
import { api, ApiError, enc } from './api.js';
import { explain } from './errors.js';
import { bytes, cronWords, duration, el, relTime, replace, when } from './format.js';
import { progressText, rateTracker, verdict } from './overview.js';

function td(label, ...content) {
  return el('td', { dataset: { label } }, ...content);
}

function table(id, headers, rows, empty) {
  if (!rows.length) return el('p', { id, class: 'hint' }, empty);
  return el('div', { class: 'table-wrap' }, el('table', { id },
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rows)));
}

function details(app) {
  const caps = app.health && app.health.capabilities;
  const retention = Object.entries(app.retention || {}).map(([k, v]) => k + ' ' + v).join(', ');
  const v = verdict(app);
  const items = [
    ['URL', el('span', { class: 'mono' }, app.url)],
    ['Schedule', [cronWords(app.schedule), ' ', el('code', {}, app.schedule), ' (', app.timezone, ')']],
    ['Next runs', el('ul', { class: 'plain', id: 'next-runs' }, (app.next_runs || []).map((t) => el('li', { class: 'mono' }, t)))],
    ['Retention', retention || '–'],
    ['Health', [el('span', { class: 'badge ' + v.cls }, v.text), app.health && app.health.detail ? ' ' + app.health.detail : '']],
    ['Capabilities', caps ? [(caps.types || []).join(', '), caps.est_seconds !== undefined ? ' · about ' + duration(caps.est_seconds) : '', caps.est_size !== undefined ? ' · about ' + bytes(caps.est_size) : ''] : 'not probed yet'],
    ['Last good backup', app.last_success ? relTime(app.last_success.finished_at) + ' · ' + bytes(app.last_success.size) : 'never'],
    ['Restore drill', drillText(app)],
    ['Stale after', app.stale_after + (app.stale ? ' (stale since ' + when(app.stale_since) + ')' : '')],
    ['Token', app.token_set ? 'set' : 'cannot be opened: PATCH a new one'],
  ];
  return el('dl', { class: 'details', id: 'details' }, items.flatMap(([k, val]) => [el('dt', {}, k), el('dd', {}, val)]));
}

// The newest drill (respaldo drill) and, when that one failed, the last that passed.
function drillText(app) {
  const d = app.last_drill;
  if (!d) return 'never drilled';
  const parts = [el('span', { class: 'badge ' + (d.passed ? 'ok' : 'bad') }, d.passed ? 'passed' : 'failed'),
    ' ' + relTime(d.reported_at) + ' into ' + d.target];
  if (!d.passed && d.error) parts.push(': ', el('span', { class: 'error-message' }, d.error));
  if (!d.passed) parts.push(' · last passed ' + (app.last_drill_success_at ? relTime(app.last_drill_success_at) : 'never'));
  return el('span', { id: 'drill' }, parts);
}

function errorCell(job) {
  if (!job.error) return td('Error', '–');
  const info = explain(job.error.code);
  return td('Error', el('code', {}, job.error.code), ': ', el('span', { class: 'error-message' }, job.error.message),
    info ? el('div', { class: 'hint' }, info.when + '. What to do: ' + info.hint) : null);
}

function historyRows(jobs) {
  return jobs.map((j) => el('tr', { dataset: { job: j.id } },
    td('Created', when(j.created_at)), td('Kind', j.kind + ' (' + j.trigger + ')'),
    td('State', el('span', { class: 'state-' + j.state }, j.state)),
    td('Duration', j.started_at && j.finished_at ? duration(Math.round((Date.parse(j.finished_at) - Date.parse(j.started_at)) / 1000)) : '–'),
    errorCell(j)));
}

// A backup's download: a signed link the browser fetches itself (the bytes never pass here).
function downloadButton(page, b) {
  return el('button', {
    type: 'button', class: 'download', dataset: { backup: b.id },
    onclick: () => page.act(async () => {
      const link = await api('POST', '/api/backups/' + enc(b.id) + '/download-url');
      // The browser fetches the bytes straight to disk; they never pass through this script.
      const a = el('a', { href: link.url, download: b.name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      page.say('Download of ' + b.name + ' started (the link is valid until ' + when(link.expires_at) + ').');
    }),
  }, 'Download');
}

// Edit (PATCH) with each refusal at the field it names.
function editForm(page) {
  const app = page.app;
  const f = (id, label, value, hint) => [el('label', { for: id }, label, hint ? el('span', { class: 'hint' }, ' ' + hint) : null),
    el('input', { id, name: id.replace('edit-', ''), value: value ?? '' }), el('div', { class: 'field-error', id: id + '-error' })];
  const form = el('form', { class: 'card', id: 'edit-form', novalidate: true },
    el('h2', {}, 'Edit ' + app.name),
    f('edit-url', 'URL', app.url), f('edit-schedule', 'Schedule', app.schedule, '(cron)'),
    f('edit-timezone', 'Time zone', app.timezone), f('edit-retention', 'Retention', JSON.stringify(app.retention), '(JSON)'),
    f('edit-token', 'New token', '', '(leave empty to keep it)'),
    el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'primary' }, 'Save'),
      el('button', { type: 'button', onclick: () => form.remove() }, 'Close')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    page.act(async () => {
      form.querySelectorAll('.field-error').forEach((n) => (n.textContent = ''));
      const patch = {};
      const get = (k) => form.querySelector('#edit-' + k).value.trim();
      if (get('url') !== app.url) patch.url = get('url');
      if (get('schedule') !== app.schedule) patch.schedule = get('schedule');
      if (get('timezone') !== app.timezone) patch.timezone = get('timezone');
      if (get('token')) patch.token = get('token');
      try {
        const r = JSON.parse(get('retention'));
        if (JSON.stringify(r) !== JSON.stringify(app.retention)) patch.retention = r;
      } catch {
        form.querySelector('#edit-retention-error').textContent = 'Not valid JSON, e.g. {"daily": 7, "weekly": 4}';
        return;
      }
      try {
        await api('PATCH', '/api/apps/' + enc(app.name), patch);
      } catch (err) {
        const field = err instanceof ApiError && err.problem.field;
        const slot = field && form.querySelector('#edit-' + field + '-error');
        if (!slot) throw err;
        slot.textContent = err.message;
        return;
      }
      page.say('Saved.');
      await page.load();
    });
  });
  return form;
}

// Delete, after an explicit confirmation.
function confirmDelete(page) {
  const { app, confirmBox } = page;
  replace(confirmBox, el('div', { class: 'confirm', role: 'alertdialog', 'aria-labelledby': 'confirm-title' },
    el('p', { id: 'confirm-title' }, 'Delete ' + app.name + '? Its queued and running jobs are cancelled; its backups stay, as orphaned catalog entries.'),
    el('div', { class: 'actions' },
      el('button', { type: 'button', class: 'danger', id: 'confirm-delete', onclick: () => page.act(async () => {
        await api('DELETE', '/api/apps/' + enc(app.name));
        location.hash = '#/';
      }) }, 'Yes, delete ' + app.name),
      el('button', { type: 'button', id: 'keep', onclick: () => replace(confirmBox) }, 'Keep it'))));
  confirmBox.querySelector('#keep').focus();
}

// Details, catalog, retention plan and job history.
function sectionsOf(page, app, catalog, plan, jobs) {
  const drill = app.last_drill;
  const catalogRows = catalog.items.map((b) => el('tr', { dataset: { backup: b.id } },
    td('Created', when(b.created_at)), td('Size', bytes(b.size)),
    td('SHA-256', el('code', { class: 'sha' }, b.sha256)), td('Status', b.status),
    td('Verified', b.verified_at ? relTime(b.verified_at) : '–'),
    td('Drilled', drill && drill.backup_id === b.id ? (drill.passed ? 'passed ' : 'failed ') + relTime(drill.reported_at) : '–'),
    td('', downloadButton(page, b))));
  const planRows = plan.decisions.map((d) => el('tr', {},
    td('Backup', el('code', {}, d.backup_id)), td('Created', when(d.created_at)),
    td('Decision', d.keep ? 'keep' : 'delete'), td('Reasons', d.reasons.join(', ') || '–')));
  return [
    el('h2', {}, 'Details'), details(app),
    el('h2', {}, 'Backups'), table('catalog', ['Created', 'Size', 'SHA-256', 'Status', 'Verified', 'Drilled', ''], catalogRows, 'No backups yet.'),
    el('h2', {}, 'Retention plan'), el('p', { class: 'hint' }, 'Policy ' + JSON.stringify(plan.policy) + ' in ' + plan.timezone),
    table('retention', ['Backup', 'Created', 'Decision', 'Reasons'], planRows, 'Nothing to plan yet.'),
    el('h2', {}, 'Jobs'), table('jobs', ['Created', 'Kind', 'State', 'Duration', 'Error'], historyRows(jobs.items), 'No jobs yet.')];
}

export async function renderApp(main, name, live) {
  const status = el('p', { class: 'status-line', id: 'action-status', role: 'status' });
  const liveBox = el('div', { id: 'live-job', class: 'card', 'aria-live': 'polite' });
  const sections = el('div', {});
  const confirmBox = el('div', {});
  const rate = rateTracker();
  let app = null;
  let activeJob = null;
  let endedJob = null; // the last job that ended while the page was open

  const say = (text, isError) => {
    status.textContent = text;
    status.className = 'status-line' + (isError ? ' error' : '');
  };
  const act = async (f) => {
    try {
      await f();
    } catch (e) {
      say(e.problem && e.problem.code ? e.message + ' (' + e.problem.code + ')' : e.message, true);
    }
  };
  const page = { say, act, confirmBox, app: null, load: () => load() };

  function drawLive() {
    const cancel = document.getElementById('cancel');
    if (cancel) cancel.disabled = !activeJob;
    const job = activeJob || endedJob;
    if (!job) {
      replace(liveBox, 'No job running.');
      return;
    }
    liveBox.dataset.state = job.state;
    const bar = el('progress', { max: job.bytes_total || 1, 'aria-label': 'Job progress' });
    if (job.bytes_total) bar.value = job.bytes_done;
    else if (job.state === 'running' || job.state === 'queued') bar.removeAttribute('value');
    const text = activeJob ? progressText(job, rate(job)) : bytes(job.bytes_done) + (job.error ? ' · ' + job.error.code + ': ' + job.error.message : '');
    replace(liveBox, el('strong', { id: 'live-state', class: 'state-' + job.state }, job.kind + ' ' + job.state), ' ',
      el('span', { class: 'progress-text', id: 'live-text' }, text), bar);
  }

  async function load() {
    const [a, catalog, plan, jobs] = await Promise.all([
      api('GET', '/api/apps/' + enc(name)),
      api('GET', '/api/apps/' + enc(name) + '/backups?limit=100'),
      api('GET', '/api/apps/' + enc(name) + '/retention'),
      api('GET', '/api/jobs?limit=30&app=' + enc(name)),
    ]);
    app = a;
    page.app = a;
    activeJob = jobs.items.find((j) => j.state === 'running' || j.state === 'queued') || null;
    replace(sections, ...sectionsOf(page, a, catalog, plan, jobs));
    drawLive();
  }

  const start = (path, what) => act(async () => {
    const r = await api('POST', '/api/apps/' + enc(name) + path);
    say(what + ' queued as job ' + r.job_id + '.');
  });
  const actions = el('div', { class: 'actions' },
    el('button', { type: 'button', class: 'primary', id: 'backup-now', onclick: () => start('/backups', 'Backup') }, 'Back up now'),
    el('button', { type: 'button', id: 'verify-now', onclick: () => start('/verify', 'Verification') }, 'Verify now'),
    el('button', { type: 'button', id: 'cancel', disabled: true, onclick: () => act(async () => {
      if (!activeJob) return;
      await api('POST', '/api/jobs/' + enc(activeJob.id) + '/cancel');
      say('Cancel requested for job ' + activeJob.id + '.');
    }) }, 'Cancel running job'),
    el('button', { type: 'button', id: 'edit', onclick: () => {
      const old = document.getElementById('edit-form');
      if (old) old.remove();
      const form = editForm(page);
      confirmBox.before(form);
      form.querySelector('input').focus();
    } }, 'Edit'),
    el('button', { type: 'button', class: 'danger', id: 'delete', onclick: () => confirmDelete(page) }, 'Delete'));

  replace(main, el('p', {}, el('a', { href: '#/' }, '← Overview')), el('h1', {}, name), actions, status, confirmBox, liveBox, sections);
  let reload = null;
  const off = live.on((type, data) => {
    if (data.app !== name) return;
    if (type === 'job') {
      const running = data.state === 'running' || data.state === 'queued';
      if (running) activeJob = data;
      else {
        if (activeJob && activeJob.id === data.id) activeJob = null;
        endedJob = data;
      }
      drawLive();
      if (!running) {
        clearTimeout(reload);
        reload = setTimeout(() => load().catch(() => {}), 200);
      }
    } else if (type !== 'ready') {
      clearTimeout(reload);
      reload = setTimeout(() => load().catch(() => {}), 200);
    }
  });
  await load();
  return () => {
    off();
    clearTimeout(reload);
  };
}
