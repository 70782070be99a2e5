/**
 * The viewer's page shell: hash router, header (user and role), login.
 *
 * Routes: `#/login`, `#/queue`, `#/session/<id>` (optionally `?as=observer`),
 * `#/ticket/<id>`, `#/tickets`. Each page is a function `(root, params, ctx) → cleanup`.
 * @module ui
 */

import * as api from './api.js';
import { h, clear, pick, toast } from './dom.js';
import { t, setLanguage, language, translateDom, LANGUAGES } from './i18n.js';
import { roleLabel } from './roles.js';
import { renderQueue } from './pages/queue.js';
import { renderSession } from './pages/session.js';
import { renderTicket, renderTickets } from './pages/tickets.js';
import { renderReplay } from './pages/replay.js'; // evidence: replay page
import { renderReview } from './pages/review.js'; // evidence: review + dashboard
import { renderAdminCerts } from './pages/admin.js'; // certs-admin: CA page
import { renderAdminApiKeys } from './pages/apikeys.js'; // integration: API keys of help-desk accounts
import { renderAdminUsers, renderPassword, adminTabs } from './pages/users.js'; // ux: users, own password
import { renderAdminOrganisations } from './pages/organisations.js'; // ux: organisations
import { renderAdminWebhooks } from './pages/admin_webhooks.js'; // events: delivery log
import { renderDashboard } from './pages/dashboard.js'; // routing: service dashboard
import { presenceControl } from './pages/routing.js'; // routing: the header's presence switch
import { people } from './people.js';
import { renderAdminSla } from './pages/admin_sla.js'; // workflow: SLA contracts, calendars


/** Which roles each top-level page serves (others are sent to their start page). */
const ROUTE_ROLES = Object.freeze({
  queue: ['engineer', 'supervisor'],
  session: ['engineer', 'supervisor'],
  admin: ['admin'],
  dashboard: ['supervisor', 'admin', 'reviewer'],
});

/** Application state shared by pages (one per page load, not a module global). */
class App {
  constructor() {
    this.root = document.getElementById('app');
    this.user = null;
    this.cleanup = null;
    /** @type {string|null} the page asked for before signing in */
    this.next = null;
    this.routes = [
      [/^\/login$/, (p) => this.loginPage(p)],
      [/^\/queue$/, (p) => renderQueue(this.root, p, this)],
      [/^\/session\/([A-Za-z0-9_.:-]{1,64})$/, (p) => renderSession(this.root, p, this)],
      [/^\/ticket\/([A-Za-z0-9_.:-]{1,64})$/, (p) => renderTicket(this.root, p, this)],
      [/^\/tickets$/, (p) => renderTickets(this.root, p, this)],
      [/^\/replay\/([A-Za-z0-9_.:-]{1,64})$/, (p) => renderReplay(this.root, p, this)],
      [/^\/review$/, (p) => renderReview(this.root, p, this)],
      [/^\/dashboard$/, (p) => renderDashboard(this.root, p, this)],
      [/^\/admin\/certs$/, (p) => {
        const cleanup = renderAdminCerts(this.root, p, this); // certs-admin
        const head = this.root.querySelector('.admin-certs .page-head');
        if (head) head.after(adminTabs('certs'));
        return cleanup;
      }],
      [/^\/admin\/users$/, (p) => renderAdminUsers(this.root, p, this)],
      [/^\/admin\/organisations$/, (p) => renderAdminOrganisations(this.root, p, this)],
      [/^\/admin\/webhooks$/, (p) => renderAdminWebhooks(this.root, p, this)],
      [/^\/admin\/api-keys$/, (p) => renderAdminApiKeys(this.root, p, this)],
      [/^\/admin\/sla$/, (p) => renderAdminSla(this.root, p, this)],
      [/^\/password$/, (p) => renderPassword(this.root, p, this)],
    ];
    window.addEventListener('hashchange', () => { this.route(); this.focusHeading(); });
    document.getElementById('logout').addEventListener('click', () => this.logout());
    document.addEventListener('clearpane:language', () => { this.setUser(this.user); this.route(); });
  }

  /**
   * After a navigation, move focus to the new page's heading, so a screen reader reads
   * where the user is (the page is not a live region: its timers would be read out)
   * and Tab continues from the page's top. Not on pages that focus a field themselves.
   */
  focusHeading() {
    const heading = this.root.querySelector('h1');
    if (!heading || this.root.querySelector('[autofocus]') || document.body.dataset.page === 'login') return;
    if (this.root.contains(document.activeElement) && document.activeElement !== document.body) return;
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }

  /** Fill the header's language switch (the choice is saved by i18n.setLanguage). */
  languageSwitch() {
    const sel = /** @type {HTMLSelectElement} */ (document.getElementById('lang-select'));
    if (!sel) return;
    clear(sel);
    for (const [code, name] of Object.entries(LANGUAGES)) {
      sel.appendChild(h('option', { value: code, text: name, lang: code }));
    }
    sel.value = language();
    sel.addEventListener('change', () => setLanguage(sel.value));
  }

  /** Load the current user, then route. */
  async start() {
    try {
      const data = await api.me();
      this.setUser(pick(data, 'user') || data);
    } catch (e) {
      this.setUser(null);
    }
    this.route();
  }

  /**
   * @param {any} user
   */
  setUser(user) {
    this.user = user && (user.username || user.id) ? user : null;
    const who = document.getElementById('whoami');
    const nav = document.getElementById('nav');
    who.hidden = !this.user;
    nav.hidden = !this.user;
    if (this.user) {
      const name = this.user.name || this.user.username;
      document.getElementById('user-name').textContent = name;
      document.getElementById('user-avatar').textContent = initials(name);
      const role = document.getElementById('user-role');
      role.textContent = roleLabel(this.user.role);
      role.dataset.role = this.user.role || '';
      document.body.dataset.role = this.user.role || '';
      // routing (issue 19): engineers say whether they take work (available, busy, away).
      document.getElementById('presence')?.remove();
      if (this.user.role === 'engineer') role.parentElement.after(presenceControl(this));
      people(true);
    } else {
      delete document.body.dataset.role;
    }
  }

  /** @returns {string} the first page for the user's role (reviewers do not work the queue) */
  get home() {
    const role = this.user && this.user.role;
    if (role === 'reviewer') return '#/review';
    if (role === 'admin') return '#/admin/users';
    if (role === 'integration') return '#/tickets';
    return '#/queue';
  }

  /** @returns {boolean} supervisors (and admins) see everything and may observe */
  get isSupervisor() {
    return !!this.user && (this.user.role === 'supervisor' || this.user.role === 'admin');
  }

  /**
   * Go to a route.
   * @param {string} hash e.g. `#/queue`
   */
  navigate(hash) {
    if (location.hash === hash) this.route();
    else location.hash = hash;
  }

  route() {
    const raw = (location.hash || '').replace(/^#/, '') || this.home.slice(1);
    const [path, query] = raw.split('?');
    const params = Object.fromEntries(new URLSearchParams(query || ''));
    if (!this.user && path !== '/login') {
      if (path !== '/') this.next = `#${raw}`; // come back here after signing in
      this.navigate('#/login');
      return;
    }
    if (this.user && path === '/') {
      this.navigate(this.home);
      return;
    }
    if (this.user && path === '/login') {
      this.navigate(this.home);
      return;
    }
    // Pages a role has no use for lead to its own start page instead of an error.
    const allowed = ROUTE_ROLES[path.split('/')[1]];
    if (this.user && allowed && !allowed.includes(this.user.role)) {
      this.navigate(this.home);
      return;
    }
    // A one-time password (first admin, new user, reset) is replaced before anything else.
    if (this.user && this.user.must_change_password && path !== '/password') {
      this.navigate('#/password');
      return;
    }
    if (this.cleanup) { try { this.cleanup(); } catch (e) { /* page already gone */ } }
    this.cleanup = null;
    clear(this.root);
    for (const a of document.querySelectorAll('#nav a')) {
      a.classList.toggle('active', path.startsWith(`/${a.dataset.route}`));
      // Links marked with data-roles show only for those roles.
      if (a.dataset.roles) a.hidden = !this.user || !a.dataset.roles.split(' ').includes(this.user.role);
    }
    for (const [re, page] of this.routes) {
      const m = re.exec(path);
      if (m) {
        document.body.dataset.page = path.split('/')[1];
        this.cleanup = page({ ...params, id: m[1] }) || null;
        return;
      }
    }
    this.root.appendChild(h('section', { class: 'page narrow' },
      h('h1', { text: t('notfound.title') }),
      h('p', {}, h('a', { href: this.home, text: t('notfound.back') }))));
  }

  /**
   * Handle an API error: 401 sends people to the login page, others become a toast.
   * @param {any} e
   */
  fail(e) {
    if (e && e.status === 401) {
      this.setUser(null);
      this.navigate('#/login');
      return;
    }
    toast(e && e.message ? e.message : String(e), 'error'); // i18n-ok: api.js words the error
  }

  async logout() {
    let answer = null;
    try { answer = await api.logout(); } catch (e) { /* already logged out */ }
    this.setUser(null);
    // Single sign-on: end the provider's session too (RP-initiated logout); it sends
    // the browser back to the viewer, which shows the login page.
    if (answer && answer.end_session_url) {
      location.assign(answer.end_session_url);
      return;
    }
    this.navigate('#/login');
  }

  /**
   * The single sign-on button and, with `oidc_only`, the password form folded away for
   * break-glass admins (issue 18). `sso_error` comes back from the broker's callback.
   * @param {HTMLFormElement} form
   * @param {HTMLElement} error
   * @param {Record<string, string>} params
   */
  async addSso(form, error, params) {
    if (params && params.sso_error) {
      // i18n-keys: login.sso_error.sso_state login.sso_error.sso_denied login.sso_error.sso_provider
      // i18n-keys: login.sso_error.sso_token login.sso_error.sso_no_role login.sso_error.sso_disabled
      // i18n-keys: login.sso_error.sso_username login.sso_error.other
      const key = `login.sso_error.${params.sso_error}`;
      error.textContent = t(key) === key ? t('login.sso_error.other') : t(key);
      error.hidden = false;
    }
    let methods;
    try { methods = await api.authMethods(); } catch (e) { return; }
    if (!methods || !methods.sso || !form.isConnected) return;
    const next = this.next && /^#\/[A-Za-z0-9/_.:?=&%-]*$/.test(this.next) ? this.next : '';
    const href = `${methods.sso.login_url}${next ? `?next=${encodeURIComponent(next)}` : ''}`;
    const button = h('a', { class: 'btn btn-primary btn-block', id: 'login-sso', href, text: t('login.sso', { name: methods.sso.name }) });
    const head = form.querySelector('.login-head');
    const fields = Array.from(form.children).filter((el) => el !== head && el !== error);
    if (methods.password) {
      head.after(button, h('p', { class: 'muted login-or', text: t('login.or') }));
      return;
    }
    // Password sign-in is for break-glass admins only: keep it out of the way.
    const details = h('details', { id: 'login-break-glass' }, h('summary', { text: t('login.break_glass') }), ...fields);
    head.after(button, details);
  }

  loginPage(params) {
    const error = h('p', { class: 'form-error', role: 'alert', hidden: true, id: 'login-error' });
    const user = h('input', { id: 'login-username', name: 'username', autocomplete: 'username', required: true, autofocus: true });
    const pass = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    // MFA (issue 14): shown once the broker answers mfa_required for the right password.
    const otp = h('input', { id: 'login-otp', name: 'otp', autocomplete: 'one-time-code', inputmode: 'numeric', maxlength: '20' });
    const otpLabel = h('label', { for: 'login-otp', text: t('login.otp') });
    otp.hidden = otpLabel.hidden = true;
    const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', id: 'login-submit', text: t('login.submit') });
    const form = h('form', { class: 'card login-card', id: 'login-form', on: { submit: async (ev) => {
      ev.preventDefault();
      error.hidden = true;
      submit.disabled = true;
      submit.textContent = t('login.busy');
      try {
        const data = await api.login(user.value.trim(), pass.value, otp.hidden ? '' : otp.value.trim());
        this.setUser(data.user);
        const next = this.next;
        this.next = null;
        this.navigate(next || this.home);
      } catch (e) {
        error.textContent = e.message || t('login.failed');
        error.hidden = false;
        if (e.code === 'mfa_required') {
          otp.hidden = otpLabel.hidden = false;
          otp.focus();
        } else {
          pass.value = '';
          otp.value = '';
          pass.focus();
        }
      } finally {
        submit.disabled = false;
        submit.textContent = t('login.submit');
      }
    } } },
    h('div', { class: 'login-head' },
      h('span', { class: 'brand-mark brand-mark-lg', 'aria-hidden': 'true' }),
      h('h1', { text: t('login.title') }),
      h('p', { class: 'muted', text: t('login.tagline') })),
    h('label', { for: 'login-username', text: t('login.username') }), user,
    h('label', { for: 'login-password', text: t('login.password') }), pass,
    otpLabel, otp,
    error, submit);
    this.root.appendChild(h('section', { class: 'login-page' }, form));
    user.focus();
    this.addSso(form, error, params);
    return null;
  }
}

/**
 * Two-letter initials for the avatar.
 * @param {string} name
 * @returns {string}
 */
function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/);
  return ((parts[0] || '?')[0] + (parts.length > 1 ? parts[parts.length - 1][0] : '')).toUpperCase();
}

// i18n.js has loaded the catalogue before this module runs (top-level await).
translateDom(document);
const app = new App();
app.languageSwitch();
app.start();
