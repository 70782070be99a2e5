/**
 * Admin pages for people: users (add, change name, role and skills, disable or enable,
 * reset the password — a new one-time password shown once) and the page where anyone
 * changes their own password (forced after a one-time password: `must_change_password`).
 * @module pages/users
 */

import * as api from '../api.js';
import { h, clear, chip, when, toast } from '../dom.js';
import { t } from '../i18n.js';
import { roleLabel } from '../roles.js';

const ROLES = ['engineer', 'supervisor', 'reviewer', 'admin'];

/** @param {string} text @returns {string[]} */
const skillList = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

/**
 * The admin area's tabs, in order: `[id, href, catalogue key]`. A new admin page adds
 * one line here (and its route in ui.js).
 * i18n-keys: nav.users nav.organisations nav.sla nav.certs nav.webhooks nav.api_keys
 */
const ADMIN_TABS = [
  ['users', '#/admin/users', 'nav.users'],
  ['organisations', '#/admin/organisations', 'nav.organisations'],
  ['api-keys', '#/admin/api-keys', 'nav.api_keys'],
  ['sla', '#/admin/sla', 'nav.sla'],
  ['webhooks', '#/admin/webhooks', 'nav.webhooks'],
  ['certs', '#/admin/certs', 'nav.certs'],
];

/**
 * The admin area's tabs.
 * @param {string} active the current tab's id
 * @returns {HTMLElement}
 */
export function adminTabs(active) {
  return h('nav', { class: 'admin-tabs', 'aria-label': t('admin.tabs') },
    ADMIN_TABS.map(([id, href, key]) =>
      h('a', { href, class: active === id ? 'active' : '', 'aria-current': active === id ? 'page' : null, text: t(key) })));
}

/**
 * A one-time secret box (shown once, selectable).
 * @param {string} label
 * @param {string} secret
 * @returns {HTMLElement}
 */
function onceSecret(label, secret) {
  return h('p', { class: 'once-secret', role: 'status' }, label, ' ', h('code', { id: 'user-secret', text: secret }));
}

/**
 * Render the users page.
 * @param {HTMLElement} root
 * @param {Record<string, string>} _params
 * @param {any} app
 * @returns {() => void}
 */
export function renderAdminUsers(root, _params, app) {
  const body = h('tbody', { id: 'users-body' });
  const out = h('div', { id: 'user-out' });
  const username = h('input', { id: 'user-username', required: true, maxlength: '64', pattern: '[a-z0-9._\\-]{2,64}', autocomplete: 'off' });
  const name = h('input', { id: 'user-name-new', required: true, maxlength: '200' });
  const role = h('select', { id: 'user-role-new' }, ROLES.map((r) => h('option', { value: r, text: roleLabel(r) })));
  const skills = h('input', { id: 'user-skills-new', class: 'skill-input', placeholder: t('users.skills.placeholder') });
  const field = (id, label, input, hint) => h('div', { class: 'field' }, h('label', { for: id, text: label }), input, hint ? h('span', { class: 'muted small', text: hint }) : null);
  let stopped = false;

  // Edit dialog: name, role, skills.
  const eName = h('input', { id: 'edit-name', required: true, maxlength: '200' });
  const eRole = h('select', { id: 'edit-role' }, ROLES.map((r) => h('option', { value: r, text: roleLabel(r) })));
  const eSkills = h('input', { id: 'edit-skills' });
  const eTitle = h('h2', { id: 'edit-title' });
  const eSave = h('button', { type: 'submit', class: 'btn btn-primary', id: 'edit-save', text: t('common.save') });
  const eCancel = h('button', { type: 'button', class: 'btn btn-ghost', id: 'edit-cancel', text: t('common.cancel') });
  const edit = h('dialog', { class: 'dialog', id: 'edit-dialog', 'aria-labelledby': 'edit-title' },
    h('form', { method: 'dialog', class: 'form-grid' }, eTitle,
      field('edit-name', t('users.field.name'), eName),
      field('edit-role', t('users.field.role'), eRole),
      field('edit-skills', t('users.field.skills'), eSkills, t('users.skills.hint')),
      h('div', { class: 'dialog-actions' }, eCancel, eSave)));
  let editing = null;
  eCancel.addEventListener('click', () => edit.close());
  edit.querySelector('form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api.updateUser(editing.id, { name: eName.value.trim(), role: eRole.value, skills: skillList(eSkills.value) });
      edit.close();
      toast(t('users.saved', { name: eName.value.trim() }), 'ok');
      await load();
    } catch (e) { app.fail(e); }
  });

  const openEdit = (u) => {
    editing = u;
    eTitle.textContent = t('users.edit.title', { username: u.username });
    eName.value = u.name;
    eRole.value = u.role;
    eSkills.value = (u.skills || []).join(', ');
    edit.showModal();
    eName.focus();
  };

  const resetPassword = async (u) => {
    // A generated password, shown once; the user must replace it at the next sign-in.
    const password = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => 'abcdefghjkmnpqrstuvwxyz23456789'[b % 31]).join('');
    try {
      await api.updateUser(u.id, { password });
      clear(out);
      out.appendChild(onceSecret(t('users.reset.done', { username: u.username }), password));
      await load();
    } catch (e) { app.fail(e); }
  };

  const setDisabled = async (u, disabled) => {
    try {
      await api.updateUser(u.id, { disabled });
      toast(disabled ? t('users.disabled', { name: u.name }) : t('users.enabled', { name: u.name }), 'ok');
      await load();
    } catch (e) { app.fail(e); }
  };

  const load = async () => {
    try {
      const data = await api.users();
      if (stopped) return;
      clear(body);
      for (const u of api.listOf(data, 'users')) {
        const me = app.user && app.user.id === u.id;
        const act = (cls, text, fn, aria) => h('button', { type: 'button', class: `btn btn-sm btn-ghost ${cls}`, text, 'aria-label': aria, on: { click: fn } });
        body.appendChild(h('tr', { class: 'user-row', dataset: { user: u.username, disabled: u.disabled ? '1' : '' } },
          h('td', { class: 'mono', text: u.username }),
          h('td', { text: u.name }),
          h('td', {}, chip(roleLabel(u.role), u.role === 'admin' ? 'accent' : 'info')),
          h('td', { text: (u.skills || []).join(', ') || '—' }),
          h('td', {}, u.disabled ? chip(t('users.status.disabled'), 'danger') : chip(t('users.status.active'), 'ok'),
            u.must_change_password ? chip(t('users.status.one_time'), 'warn') : null),
          h('td', { class: 'muted', text: when(u.created_at) }),
          h('td', { class: 'row-actions' },
            act('user-edit', t('users.edit'), () => openEdit(u), t('users.edit.aria', { username: u.username })),
            act('user-reset', t('users.reset'), () => resetPassword(u), t('users.reset.aria', { username: u.username })),
            me ? null : u.disabled
              ? act('user-enable', t('users.enable'), () => setDisabled(u, false), t('users.enable.aria', { username: u.username }))
              : act('user-disable', t('users.disable'), () => setDisabled(u, true), t('users.disable.aria', { username: u.username })))));
      }
    } catch (e) { app.fail(e); }
  };

  const form = h('form', { class: 'panel user-form', id: 'user-form' },
    h('h2', { text: t('users.add.title') }),
    field('user-username', t('users.field.username'), username, t('users.username.hint')),
    field('user-name-new', t('users.field.name'), name),
    field('user-role-new', t('users.field.role'), role),
    field('user-skills-new', t('users.field.skills'), skills, t('users.skills.hint')),
    h('div', { class: 'field field-submit' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'user-add', text: t('users.add') })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const made = await api.createUser({ username: username.value.trim().toLowerCase(), name: name.value.trim(), role: role.value, skills: skillList(skills.value) });
      clear(out);
      out.appendChild(onceSecret(t('users.add.done', { username: made.user.username }), made.password));
      form.reset();
      await load();
    } catch (e) { app.fail(e); }
  });

  root.appendChild(h('section', { class: 'page admin-users' },
    h('div', { class: 'page-head' }, h('div', {}, h('h1', { text: t('users.title') }), h('p', { class: 'muted', text: t('users.subtitle') }))),
    adminTabs('users'),
    form, out,
    h('section', { class: 'panel table-wrap' },
      h('table', { class: 'table users' },
        // i18n-keys: users.col.username users.col.name users.col.role users.col.skills users.col.status users.col.created users.col.actions
        h('thead', {}, h('tr', {}, ['username', 'name', 'role', 'skills', 'status', 'created', 'actions'].map((c) => h('th', { scope: 'col', text: t(`users.col.${c}`) })))),
        body)),
    edit));
  load();
  return () => { stopped = true; if (edit.open) edit.close(); };
}

/**
 * The password page: change one's own password; when `forced`, nothing else is offered
 * until it is done (a one-time password from the admin or the broker's first start).
 * @param {HTMLElement} root
 * @param {Record<string, string>} _params
 * @param {any} app
 * @returns {null}
 */
export function renderPassword(root, _params, app) {
  const forced = Boolean(app.user && app.user.must_change_password);
  const current = h('input', { id: 'pw-current', type: 'password', autocomplete: 'current-password', required: true });
  const next = h('input', { id: 'pw-new', type: 'password', autocomplete: 'new-password', required: true, minlength: '12' });
  const again = h('input', { id: 'pw-again', type: 'password', autocomplete: 'new-password', required: true });
  const error = h('p', { class: 'form-error', id: 'pw-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', id: 'pw-submit', text: t('password.submit') });
  const form = h('form', { class: 'card login-card', id: 'pw-form' },
    h('div', { class: 'login-head' },
      h('h1', { text: forced ? t('password.forced.title') : t('password.title') }),
      h('p', { class: 'muted', text: forced ? t('password.forced.text') : t('password.text') })),
    h('label', { for: 'pw-current', text: forced ? t('password.current.onetime') : t('password.current') }), current,
    h('label', { for: 'pw-new', text: t('password.new') }), next,
    h('p', { class: 'muted small', text: t('password.rule') }),
    h('label', { for: 'pw-again', text: t('password.again') }), again,
    error, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    if (next.value !== again.value) {
      error.textContent = t('password.mismatch');
      error.hidden = false;
      again.focus();
      return;
    }
    submit.disabled = true;
    try {
      const data = await api.changePassword(current.value, next.value);
      app.setUser(data.user);
      toast(t('password.done'), 'ok');
      app.navigate(app.home);
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  root.appendChild(h('section', { class: 'login-page' }, form));
  current.focus();
  return null;
}
