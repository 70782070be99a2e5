/**
 * Admin page for help-desk integrations (issue 18): integration accounts and their API
 * keys. A key is created with scopes and an expiry and shown once, with a copy button;
 * the list shows every key's prefix, scopes, state, expiry and last use (never the key);
 * a key is revoked with one click and refused from its next request on.
 * @module pages/apikeys
 */

import * as api from '../api.js';
import { h, clear, chip, when, toast } from '../dom.js';
import { t } from '../i18n.js';
import { adminTabs } from './users.js';

/** The scopes a key may have (broker/auth/api_keys.py). */
const SCOPES = ['tickets', 'invitations', 'sessions:read', 'webhooks'];
const DEFAULT_DAYS = 90;
const MAX_DAYS = 730;

/** @param {string} scope @returns {string} an element id part */
const scopeId = (scope) => scope.replace(/[^a-z]/g, '-');

/**
 * Render the API keys page.
 * @param {HTMLElement} root
 * @param {Record<string, string>} _params
 * @param {any} app
 * @returns {() => void}
 */
export function renderAdminApiKeys(root, _params, app) {
  let stopped = false;
  const body = h('tbody', { id: 'keys-body' });
  const out = h('div', { id: 'key-out', 'aria-live': 'polite' });
  const field = (id, label, input, hint) => h('div', { class: 'field' },
    h('label', { for: id, text: label }), input, hint ? h('span', { class: 'muted small', id: `${id}-hint`, text: hint }) : null);

  // An integration account (role `integration`: API keys only, no password sign-in).
  const accUser = h('input', { id: 'acc-username', required: true, maxlength: '64', pattern: '[a-z0-9._\\-]{2,64}', autocomplete: 'off' });
  const accName = h('input', { id: 'acc-name', required: true, maxlength: '200', autocomplete: 'off' });
  const accForm = h('form', { class: 'panel user-form', id: 'acc-form' },
    h('h2', { text: t('keys.account.title') }),
    h('p', { class: 'muted small form-note', text: t('keys.account.text') }),
    field('acc-username', t('users.field.username'), accUser, t('users.username.hint')),
    field('acc-name', t('users.field.name'), accName),
    h('div', { class: 'field field-submit' }, h('button', { type: 'submit', class: 'btn btn-ghost', id: 'acc-add', text: t('keys.account.add') })));

  // A new key: account, name, scopes, expiry.
  const account = h('select', { id: 'key-user', required: true });
  const name = h('input', { id: 'key-name', required: true, maxlength: '200', autocomplete: 'off', placeholder: t('keys.name.placeholder') });
  const days = h('input', { id: 'key-days', type: 'number', min: '1', max: String(MAX_DAYS), value: String(DEFAULT_DAYS), required: true });
  const boxes = SCOPES.map((s) => h('input', { type: 'checkbox', id: `key-scope-${scopeId(s)}`, value: s, checked: s !== 'webhooks' }));
  // i18n-keys: keys.scope.tickets keys.scope.invitations keys.scope.sessions-read keys.scope.webhooks
  const scopes = h('fieldset', { class: 'field key-scopes' }, h('legend', { text: t('keys.field.scopes') }),
    SCOPES.map((s, i) => h('label', { class: 'check', for: boxes[i].id }, boxes[i], ' ', h('span', { class: 'mono', text: s }), ' ', h('span', { class: 'muted small', text: t(`keys.scope.${scopeId(s)}`) }))));
  const keyForm = h('form', { class: 'panel user-form', id: 'key-form' },
    h('h2', { text: t('keys.add.title') }),
    field('key-user', t('keys.field.account'), account),
    field('key-name', t('keys.field.name'), name),
    scopes,
    field('key-days', t('keys.field.days'), days, t('keys.days.hint', { max: MAX_DAYS })),
    h('div', { class: 'field field-submit' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'key-create', text: t('keys.add') })));

  keyForm.hidden = true; // until the accounts are known (none: add one first)

  /** Show the new key once, with a copy button. @param {string} key @param {string} label */
  const showOnce = (key, label) => {
    clear(out);
    const copy = h('button', { type: 'button', class: 'btn btn-sm btn-ghost', id: 'key-copy', text: t('keys.copy') });
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(key);
        toast(t('keys.copied'), 'ok');
      } catch (e) {
        toast(t('keys.copy_failed'), 'error');
      }
    });
    out.appendChild(h('div', { class: 'once-secret', role: 'status' },
      h('p', { text: label }),
      h('p', {}, h('code', { id: 'key-secret', text: key }), ' ', copy),
      h('p', { class: 'small', text: t('keys.once') })));
  };

  const revoke = async (k) => {
    try {
      await api.revokeApiKey(k.id);
      toast(t('keys.revoked', { prefix: k.prefix }), 'ok');
      await load();
    } catch (e) { app.fail(e); }
  };

  const load = async () => {
    try {
      const [keyData, userData] = await Promise.all([api.apiKeys(), api.users()]);
      if (stopped) return;
      const accounts = api.listOf(userData, 'users').filter((u) => u.role === 'integration' && !u.disabled);
      const chosen = account.value;
      clear(account);
      for (const u of accounts) account.appendChild(h('option', { value: u.id, text: `${u.name} (${u.username})` }));
      if (chosen) account.value = chosen;
      keyForm.hidden = accounts.length === 0;
      clear(body);
      const keys = api.listOf(keyData, 'api_keys');
      if (!keys.length) body.appendChild(h('tr', {}, h('td', { colspan: '8', class: 'muted', text: t('keys.none') })));
      const tone = { active: 'ok', expired: 'warn', revoked: 'danger' };
      for (const k of keys) {
        // i18n-keys: keys.state.active keys.state.expired keys.state.revoked
        body.appendChild(h('tr', { class: 'key-row', dataset: { key: k.id, state: k.state } },
          h('td', { class: 'mono key-prefix', text: `${k.prefix}…` }),
          h('td', { text: `${k.name} · ${k.username}` }),
          h('td', { class: 'mono small', text: k.scopes.join(', ') }),
          h('td', {}, chip(t(`keys.state.${k.state}`), tone[k.state] || 'muted')),
          h('td', { class: 'muted', text: when(k.created_at) }),
          h('td', { class: 'muted', text: when(k.expires_at) }),
          h('td', { class: 'key-used', text: k.last_used_at ? when(k.last_used_at) : t('keys.never') }),
          h('td', { class: 'row-actions' }, k.state === 'revoked' ? null
            : h('button', { type: 'button', class: 'btn btn-sm btn-ghost key-revoke', text: t('keys.revoke'),
              'aria-label': t('keys.revoke.aria', { prefix: k.prefix, name: k.name }), on: { click: () => revoke(k) } }))));
      }
    } catch (e) { app.fail(e); }
  };

  accForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const made = await api.createUser({ username: accUser.value.trim().toLowerCase(), name: accName.value.trim(), role: 'integration' });
      toast(t('keys.account.added', { name: made.user.name }), 'ok');
      accForm.reset();
      account.value = made.user.id;
      await load();
      account.value = made.user.id;
    } catch (e) { app.fail(e); }
  });

  keyForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
    if (!chosen.length) {
      toast(t('keys.scopes.none'), 'error');
      boxes[0].focus();
      return;
    }
    try {
      const made = await api.createApiKey({ user_id: account.value, name: name.value.trim(), scopes: chosen, expires_in_days: Number(days.value) });
      showOnce(made.key, t('keys.add.done', { name: made.api_key.name, username: made.api_key.username }));
      name.value = '';
      await load();
    } catch (e) { app.fail(e); }
  });

  root.appendChild(h('section', { class: 'page admin-keys' },
    h('div', { class: 'page-head' }, h('div', {}, h('h1', { text: t('keys.title') }), h('p', { class: 'muted', text: t('keys.subtitle') }))),
    adminTabs('api-keys'),
    accForm, keyForm, out,
    h('section', { class: 'panel table-wrap' },
      h('table', { class: 'table keys' },
        h('caption', { class: 'visually-hidden', text: t('keys.title') }),
        // i18n-keys: keys.col.prefix keys.col.account keys.col.scopes keys.col.state keys.col.created keys.col.expires keys.col.used keys.col.actions
        h('thead', {}, h('tr', {}, ['prefix', 'account', 'scopes', 'state', 'created', 'expires', 'used', 'actions'].map((c) => h('th', { scope: 'col', text: t(`keys.col.${c}`) })))),
        body))));
  load();
  return () => { stopped = true; clear(out); };
}
