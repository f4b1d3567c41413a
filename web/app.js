// The dashboard's entry: sign-in, the hash router (#/, #/apps/NAME, #/register) and the one
// live event stream every view listens to.
import { api, ApiError, clearToken, setToken, streamEvents, token, whenUnauthorized } from './api.js';
import { loadErrors } from './errors.js';
import { el, replace } from './format.js';
import { renderOverview } from './overview.js';
import { renderApp } from './app_page.js';
import { renderRegister } from './register.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const listeners = new Set();
let stopStream = null;
let leave = null;

// What views get: subscribe to live events (returns an unsubscribe), navigate.
export const live = {
  on(f) {
    listeners.add(f);
    return () => listeners.delete(f);
  },
  connected: false,
};

function startStream() {
  if (stopStream) return;
  stopStream = streamEvents(
    (type, data) => {
      for (const f of [...listeners]) f(type, data);
    },
    (up) => {
      live.connected = up;
      document.body.dataset.live = up ? 'on' : 'off';
    },
  );
}

function signOut(message) {
  clearToken();
  if (stopStream) stopStream();
  stopStream = null;
  route(message);
}

whenUnauthorized(() => signOut('The token was refused; sign in again.'));
document.getElementById('signout').addEventListener('click', () => signOut());

function renderSignIn(message) {
  nav.hidden = true;
  const input = el('input', { id: 'token', type: 'password', name: 'token', autocomplete: 'current-password', required: true, 'aria-describedby': 'signin-error' });
  const error = el('p', { id: 'signin-error', class: 'error', role: 'alert' }, message || '');
  const submit = el('button', { type: 'submit', class: 'primary', id: 'signin' }, 'Sign in');
  const form = el('form', { class: 'card signin', novalidate: true },
    el('h1', {}, 'Sign in to respaldo'),
    el('label', { for: 'token' }, 'Admin token ', el('span', { class: 'hint' }, '(from --admin-token-file, RESPALDO_ADMIN_TOKEN or DATA_DIR/admin-token)')),
    input, error, el('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const t = input.value.trim();
    if (!t) {
      error.textContent = 'Enter the admin token.';
      input.focus();
      return;
    }
    submit.disabled = true;
    try {
      await api('GET', '/api/apps?limit=1', undefined, t);
      setToken(t);
      route();
    } catch (err) {
      error.textContent = err instanceof ApiError && err.status === 401
        ? 'That token was refused. Check it and try again.'
        : (err.message || 'Sign-in failed.');
      input.setAttribute('aria-invalid', 'true');
      input.select();
    } finally {
      submit.disabled = false;
    }
  });
  replace(main, form);
  input.focus();
}

async function route(message) {
  if (leave) leave();
  leave = null;
  if (!token()) {
    renderSignIn(message);
    return;
  }
  nav.hidden = false;
  startStream();
  await loadErrors();
  const hash = location.hash || '#/';
  const m = hash.match(/^#\/apps\/([^/]+)$/);
  try {
    if (m) leave = await renderApp(main, decodeURIComponent(m[1]), live);
    else if (hash === '#/register') leave = await renderRegister(main);
    else leave = await renderOverview(main, live);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    replace(main, el('p', { class: 'error', role: 'alert' }, err.message || String(err)));
  }
}

window.addEventListener('hashchange', () => route());
route();
