// Registering an app with the guide's fields; a refusal's `field` puts its detail next to the
// field it names.
import { api, ApiError } from './api.js';
import { el, replace } from './format.js';

const FIELDS = [
  ['name', 'Name', 'text', 'mi-app', 'lower-case letters, digits and dashes'],
  ['url', 'URL', 'url', 'http://mi-app:8000', 'where the app serves /backup/capabilities and /backup/export'],
  ['token', 'Token', 'password', '', 'the bearer token the app expects'],
  ['drive_folder_id', 'Drive folder id', 'text', '1AbC2dEfG3', 'also the local storage folder'],
  ['schedule', 'Schedule', 'text', '0 3 * * *', 'cron: minute hour day-of-month month day-of-week'],
  ['timezone', 'Time zone', 'text', '', 'optional, IANA name; the server default otherwise'],
];
const RULES = ['last', 'daily', 'weekly', 'monthly', 'yearly'];

export async function renderRegister(main) {
  const general = el('p', { class: 'error', id: 'form-error', role: 'alert' });
  const inputs = {};
  const rows = FIELDS.map(([key, label, type, placeholder, hint]) => {
    inputs[key] = el('input', { id: 'f-' + key, name: key, type, placeholder, autocomplete: 'off', 'aria-describedby': 'f-' + key + '-error f-' + key + '-hint' });
    return el('div', {}, el('label', { for: 'f-' + key }, label), inputs[key],
      el('div', { class: 'hint', id: 'f-' + key + '-hint' }, hint),
      el('div', { class: 'field-error', id: 'f-' + key + '-error' }));
  });
  const rules = RULES.map((r) => {
    inputs['retention.' + r] = el('input', { id: 'f-retention-' + r, type: 'number', min: 0, inputmode: 'numeric', value: r === 'daily' ? 7 : r === 'weekly' ? 4 : '' });
    return el('div', {}, el('label', { for: 'f-retention-' + r }, r), inputs['retention.' + r]);
  });
  const submit = el('button', { type: 'submit', class: 'primary', id: 'register' }, 'Register');
  const form = el('form', { class: 'card', id: 'register-form', novalidate: true },
    rows,
    el('fieldset', { id: 'f-retention', 'aria-describedby': 'f-retention-error' }, el('legend', {}, 'Retention (backups kept per rule)'), rules,
      el('div', { class: 'field-error', id: 'f-retention-error' })),
    general, el('div', { class: 'actions' }, submit));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    form.querySelectorAll('.field-error').forEach((n) => (n.textContent = ''));
    form.querySelectorAll('[aria-invalid]').forEach((n) => n.removeAttribute('aria-invalid'));
    general.textContent = '';
    const body = {};
    for (const [key] of FIELDS) {
      const v = inputs[key].value.trim();
      if (v || key !== 'timezone') body[key] = v;
    }
    body.retention = {};
    for (const r of RULES) {
      const v = inputs['retention.' + r].value.trim();
      if (v !== '') body.retention[r] = Number(v);
    }
    submit.disabled = true;
    try {
      const r = await api('POST', '/api/apps', body);
      location.hash = '#/apps/' + encodeURIComponent(r.id);
    } catch (err) {
      const field = err instanceof ApiError ? err.problem.field : null;
      const slot = field && form.querySelector('#f-' + field + '-error');
      if (slot) {
        slot.textContent = err.message;
        const input = form.querySelector('#f-' + field);
        if (input) {
          input.setAttribute('aria-invalid', 'true');
          if (input.focus) input.focus();
        }
      } else {
        general.textContent = err.message + (err.problem && err.problem.code ? ' (' + err.problem.code + ')' : '');
      }
    } finally {
      submit.disabled = false;
    }
  });
  replace(main, el('h1', {}, 'Register an app'), form);
  inputs.name.focus();
  return null;
}
