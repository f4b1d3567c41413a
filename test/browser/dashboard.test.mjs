// The dashboard in a real browser: Debian's Chromium driven by playwright-core against the real
// respaldo binary and the app double. Sign-in (and a wrong token), registering through the form
// (a field error, then success), a backup watched live to success, the catalog, a download through
// the signed URL (SHA-256 compared), cancelling a stalled job, an app error holding HTML shown as
// text, no horizontal scroll at 390x844, screenshots at 390 and 1280 px.
//
//   RESPALDO_BIN=build/app/respaldo RESPALDO_SOURCE_DIR=. node test/browser/dashboard.test.mjs
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BIN = process.env.RESPALDO_BIN || 'build/app/respaldo';
const SRC = process.env.RESPALDO_SOURCE_DIR || '.';
const SHOTS = process.env.SCREENSHOT_DIR || join(tmpdir(), 'respaldo-screenshots');
const ADMIN = 'browser-admin-token-0123456789';
const APP_TOKEN = 'browser-app-token-0123456789';
const XSS = '<img src=x onerror=alert(1)>';
const children = [];

// Starts a process and resolves with the first match of `pattern` in its output.
function launch(cmd, args, env, pattern, what) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(p);
    let out = '';
    const timer = setTimeout(() => reject(new Error(what + ' did not start:\n' + out)), 20000);
    const onData = (d) => {
      out += d;
      const m = out.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolve({ proc: p, port: Number(m[1]), log: () => out });
      }
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.on('exit', (code) => reject(new Error(what + ' exited ' + code + ':\n' + out)));
  });
}

async function until(what, f, timeout = 30000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const step = (name) => console.log('- ' + name);

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'respaldo-browser-'));
  mkdirSync(SHOTS, { recursive: true });
  const server = await launch(BIN, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir,
    '--probe-interval', '0', '--max-attempts', '1', '--progress-interval', '100ms',
    '--chunk-size', '256KiB', '--read-timeout', '120s'],
  { RESPALDO_ADMIN_TOKEN: ADMIN }, /listening address=\S+:(\d+)/, 'respaldo');
  const base = 'http://127.0.0.1:' + server.port;
  const double = await launch('python3', [join(SRC, 'test/doubles/app_double.py'), '--port', '0',
    '--token', APP_TOKEN, '--mode', 'trickle', '--size', '6MiB', '--trickle-bytes-per-sec', '3000000'],
  {}, /listening (\d+)/, 'app double');
  const appUrl = 'http://127.0.0.1:' + double.port;
  const control = (settings) => fetch(appUrl + '/_control', { method: 'POST', body: JSON.stringify(settings) });
  const rest = async (method, path, body) => {
    const headers = { Authorization: 'Bearer ' + ADMIN };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return r.json();
  };

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    const page = await context.newPage();
    const dialogs = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      d.dismiss();
    });
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));

    step('the page is served with strict headers');
    const first = await page.goto(base + '/');
    const h = first.headers();
    assert.equal(first.status(), 200);
    assert.equal(h['content-security-policy'], "default-src 'self'; frame-ancestors 'none'");
    assert.equal(h['x-content-type-options'], 'nosniff');
    assert.equal(h['referrer-policy'], 'no-referrer');
    assert.match(h['content-type'], /^text\/html/);

    step('a wrong token is refused, the right one signs in');
    await page.fill('#token', 'not-the-admin-token-at-all');
    await page.click('#signin');
    await page.waitForSelector('#signin-error:has-text("refused")');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('respaldo.token')), null);
    await page.fill('#token', ADMIN);
    await page.click('#signin');
    await page.waitForSelector('#banner:has-text("No apps registered yet")');
    assert.equal(await page.evaluate(() => document.cookie), '');

    step('register through the form: the schedule error shows at the field, then it works');
    await page.click('a[href="#/register"]');
    await page.fill('#f-name', 'web-app');
    await page.fill('#f-url', appUrl);
    await page.fill('#f-token', APP_TOKEN);
    await page.fill('#f-drive_folder_id', 'folder1');
    await page.fill('#f-schedule', '61 3 * * *');
    await page.click('#register');
    await page.waitForSelector('#f-schedule-error:not(:empty)');
    assert.match(await page.textContent('#f-schedule-error'), /minute|59|range/);
    assert.equal(await page.getAttribute('#f-schedule', 'aria-invalid'), 'true');
    assert.equal(await page.textContent('#f-url-error'), '');
    await page.fill('#f-schedule', '0 3 * * *');
    await page.click('#register');
    await page.waitForURL(/#\/apps\/web-app$/);
    await page.waitForSelector('#next-runs li');
    assert.equal(await page.locator('#next-runs li').count(), 5);

    step('back up now: the progress is live until succeeded, without a reload');
    await page.evaluate(() => (window.__sameDocument = true));
    await page.click('#backup-now');
    await page.waitForSelector('#live-state:has-text("backup running")');
    // Percent and MB/s move while bytes flow (progress is saved every 100 ms).
    // (Polled from here: the page's CSP forbids the eval a waitForFunction would need.)
    const moving = /\b[1-9]\d?% · [\d.]+ MB\/s/;
    await until('percent and MB/s', async () => moving.test((await page.textContent('#live-text')) || ''), 30000);
    const midway = await page.textContent('#live-text');
    await page.waitForSelector('#live-state:has-text("backup succeeded")', { timeout: 60000 });
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
    console.log('  progress seen: ' + midway);

    step('the backup is in the catalog and downloads through its signed URL');
    await page.waitForSelector('#catalog tr[data-backup]');
    const catalog = await rest('GET', '/api/apps/web-app/backups');
    assert.equal(catalog.items.length, 1);
    const b = catalog.items[0];
    assert.equal(await page.textContent('#catalog .sha'), b.sha256);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#catalog button.download')]);
    const file = await download.path();
    const sha = createHash('sha256').update(readFileSync(file)).digest('hex');
    assert.equal(sha, b.sha256);
    assert.equal(readFileSync(file).length, b.size);
    await page.screenshot({ path: join(SHOTS, 'app-1280.png'), fullPage: true });

    step('verify now: the verification is followed live too');
    await page.click('#verify-now');
    await page.waitForSelector('#live-state:has-text("verify succeeded")', { timeout: 30000 });

    step('a restore drill reported by `respaldo drill` shows in the details and the catalog');
    const failedDrill = await rest('POST', '/api/backups/' + b.id + '/drills',
      { target: 'directory', passed: false, duration_seconds: 2, entries: 3, error: '<b>tar</b> exited 2' });
    assert.equal(failedDrill.passed, false, JSON.stringify(failedDrill));
    await page.reload();
    await page.waitForSelector('#drill:has-text("failed")');
    assert.match(await page.textContent('#drill'), /<b>tar<\/b> exited 2 · last passed never/);
    assert.equal(await page.locator('#drill b').count(), 0);
    await rest('POST', '/api/backups/' + b.id + '/drills', { target: 'postgres', passed: true, duration_seconds: 4, tables: 5, rows: 100 });
    await page.reload();
    await page.waitForSelector('#drill:has-text("passed")');
    assert.match(await page.textContent('#drill'), /into postgres/);
    assert.match(await page.textContent('#catalog td[data-label="Drilled"]'), /^passed /);

    step('edit: a bad schedule is refused at its field, a good one is saved');
    await page.click('#edit');
    await page.fill('#edit-schedule', '0 25 * * *');
    await page.click('#edit-form button[type="submit"]');
    await page.waitForSelector('#edit-schedule-error:not(:empty)');
    await page.fill('#edit-schedule', '15 4 * * 1');
    await page.click('#edit-form button[type="submit"]');
    await page.waitForSelector('#action-status:has-text("Saved")');
    await page.waitForSelector('#details:has-text("every Monday at 04:15")');
    assert.equal((await rest('GET', '/api/apps/web-app')).schedule, '15 4 * * 1');
    await page.click('#edit-form button:has-text("Close")');

    step('a stalled job is cancelled from the page');
    await control({ mode: 'stall', stall_after: 65536, stall_seconds: 600 });
    await page.click('#backup-now');
    await page.waitForSelector('#live-state:has-text("backup running")');
    await page.waitForSelector('#cancel:not([disabled])');
    await page.click('#cancel');
    await page.waitForSelector('#live-state:has-text("backup cancelled")', { timeout: 30000 });

    step('an app error holding HTML is shown as text and runs nothing');
    await control({ mode: 'deferred_failed', failed_error: XSS, deferred_polls: 0 });
    await page.click('#backup-now');
    await page.waitForSelector('#live-state:has-text("backup failed")', { timeout: 30000 });
    // The history reloads just after the job's end arrives; the message is there as text.
    await page.locator('#jobs .error-message', { hasText: XSS }).first().waitFor({ timeout: 15000 });
    const messages = await page.locator('#jobs .error-message').allTextContents();
    assert.ok(messages.some((m) => m.includes(XSS)), messages.join(' | '));
    assert.equal(await page.locator('main img').count(), 0);
    const hint = await page.locator('#jobs .hint').first().textContent();
    assert.match(hint, /What to do/);
    await page.waitForTimeout(300); // an injected onerror would have fired by now
    assert.deepEqual(dialogs, []);

    step('the overview, worst first, at 1280 and 390 px without horizontal scroll');
    await control({ mode: 'normal', size: 2 * 1048576 });
    for (const name of ['aaa-fine', 'zzz-fine']) {
      const reg = await fetch(base + '/api/apps', { method: 'POST', headers: { Authorization: 'Bearer ' + ADMIN, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name, url: appUrl, token: APP_TOKEN, drive_folder_id: 'folder1', schedule: '30 2 * * *', retention: { daily: 7, weekly: 4 } }) });
      assert.equal(reg.status, 201, await reg.text());
      const started = await rest('POST', '/api/apps/' + name + '/backups');
      await until(name + ' backed up', async () => (await rest('GET', started.status_url)).state === 'succeeded');
    }
    await page.click('a[href="#/"]');
    await page.waitForSelector('.app-row[data-app="zzz-fine"]');
    assert.deepEqual(await page.locator('.app-row').evaluateAll((rows) => rows.map((r) => r.dataset.app)), ['web-app', 'aaa-fine', 'zzz-fine']);
    await page.waitForSelector('#banner:has-text("need")');
    await page.fill('#filter', 'nothing-matches');
    assert.equal(await page.locator('.app-row').count(), 0);
    await page.fill('#filter', 'web');
    assert.equal(await page.locator('.app-row').count(), 1);
    await page.fill('#filter', '');
    await page.locator('#filter').blur();
    await page.screenshot({ path: join(SHOTS, 'overview-1280.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    for (const hash of ['#/', '#/apps/web-app', '#/register']) {
      await page.goto(base + '/' + hash);
      await page.waitForSelector(hash === '#/' ? '.app-row' : hash === '#/register' ? '#register-form' : '#details');
      const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
      assert.ok(scroll <= width, hash + ': scrollWidth ' + scroll + ' > ' + width);
    }
    // A fresh load (the token survives in sessionStorage), focus at the start of the page.
    await page.goto('about:blank');
    await page.goto(base + '/#/');
    await page.waitForSelector('.app-row');
    await page.screenshot({ path: join(SHOTS, 'overview-390.png'), fullPage: true });

    step('delete asks first, then removes the app');
    await page.goto(base + '/#/apps/zzz-fine');
    await page.waitForSelector('#details');
    await page.click('#delete');
    await page.click('#keep');
    assert.equal(await page.locator('#confirm-delete').count(), 0);
    assert.equal((await fetch(base + '/api/apps/zzz-fine', { headers: { Authorization: 'Bearer ' + ADMIN } })).status, 200);
    await page.click('#delete');
    await page.click('#confirm-delete');
    await page.waitForURL(/#\/$/);
    await until('zzz-fine gone', async () => (await fetch(base + '/api/apps/zzz-fine', { headers: { Authorization: 'Bearer ' + ADMIN } })).status === 404);
    await until('two rows left', async () => (await page.locator('.app-row').count()) === 2);

    step('dark color scheme');
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: 'light' });
    const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(dark, 'rgb(21, 23, 26)');
    assert.equal(light, 'rgb(247, 247, 245)');

    step('keyboard: the sign-out button is reachable with Tab');
    await page.goto('about:blank');
    await page.goto(base + '/#/');
    await page.waitForSelector('.app-row');
    let reached = false;
    for (let i = 0; i < 8 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement && document.activeElement.id === 'signout');
    }
    assert.ok(reached, 'Tab never reached the sign-out button');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#token');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('respaldo.token')), null);
    assert.deepEqual(pageErrors, []);
    console.log('screenshots in ' + SHOTS);
  } finally {
    await browser.close();
    for (const c of children) c.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(() => {
  console.log('ok');
  process.exit(0);
}, (e) => {
  console.error(e);
  for (const c of children) c.kill('SIGKILL');
  process.exit(1);
});
