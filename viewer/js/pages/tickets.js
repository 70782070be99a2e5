/**
 * Ticket pages: the ticket list (with "New ticket and invitation code") and one ticket
 * with its sessions (outcome and rating, G9) and "Invite the client by code".
 * @module pages/tickets
 */

import * as api from '../api.js';
import { slaPanel } from './ticket_sla.js';
import { people, nameOf } from '../people.js';
import { h, clear, pick, chip, stateChip, when, toMs, duration, toast } from '../dom.js';
import { t, fmtDate } from '../i18n.js';

/** Outcome tone per SPEC §5 end reason (its words: the `outcome.<reason>` key). */
// i18n-keys: outcome.killed_by_client outcome.ended_by_engineer outcome.denied outcome.timed_out
// i18n-keys: outcome.failed outcome.broker_shutdown
const OUTCOME_TONE = {
  killed_by_client: 'danger',
  ended_by_engineer: 'ok',
  denied: 'warn',
  timed_out: 'warn',
  failed: 'danger',
  broker_shutdown: 'muted',
};

// i18n-keys: ticket.status.new ticket.status.assigned ticket.status.in_progress ticket.status.waiting_for_client
// i18n-keys: ticket.status.pending_vendor ticket.status.resolved ticket.status.closed
/** The lifecycle of broker/lifecycle.py, in its order. */
const STATUS_TONE = {
  new: 'info',
  assigned: 'info',
  in_progress: 'info',
  waiting_for_client: 'warn',
  pending_vendor: 'warn',
  resolved: 'ok',
  closed: 'muted',
};

/**
 * A ticket status for people.
 * @param {string} st
 * @returns {string}
 */
export function statusText(st) {
  return st in STATUS_TONE ? t(`ticket.status.${st}`) : st.replaceAll('_', ' ');
}

/**
 * Chip for a session's outcome.
 * @param {any} s
 * @returns {HTMLElement}
 */
export function outcomeChip(s) {
  const reason = pick(s, 'end_reason', 'outcome', 'reason');
  if (reason && OUTCOME_TONE[reason]) return chip(t(`outcome.${reason}`), OUTCOME_TONE[reason]);
  if (reason) return chip(String(reason), 'muted');
  return stateChip(pick(s, 'state') || '');
}

/**
 * Stars for a 1–5 rating (text, not markup).
 * @param {any} rating
 * @returns {HTMLElement}
 */
export function ratingView(rating) {
  const score = typeof rating === 'number' ? rating : pick(rating, 'score');
  if (!score) return h('span', { class: 'muted', text: t('rating.none') });
  const comment = typeof rating === 'object' ? pick(rating, 'comment') : pick(rating, 'rating_comment');
  return h('span', { class: 'rating', title: t('rating.of5', { score }) },
    h('span', { class: 'stars', role: 'img', 'aria-label': t('rating.of5', { score }), text: '★'.repeat(score) + '☆'.repeat(5 - score) }),
    comment ? h('span', { class: 'rating-comment', text: ` “${comment}”` }) : null);
}

/**
 * The invitation code box: the code in large digits, its expiry, what to tell the client.
 * @param {{code: string, expires_at: any}} inv
 * @returns {HTMLElement}
 */
function invitationBox(inv) {
  const copy = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', text: t('invite.copy') });
  copy.addEventListener('click', async () => {
    try { await navigator.clipboard.writeText(inv.code); toast(t('invite.copied'), 'ok'); } catch (e) { toast(t('invite.copy_failed'), 'error'); }
  });
  const expires = toMs(inv.expires_at);
  return h('div', { class: 'invite-box', id: 'invite-box', role: 'status' },
    h('p', { class: 'eyebrow', text: t('invite.code_label') }),
    h('p', { class: 'invite-code', id: 'invite-code', 'aria-label': t('invite.code_spelled', { digits: inv.code.replace(/\D/g, '').split('').join(' ') }), text: inv.code }),
    h('p', { class: 'muted', text: expires ? t('invite.expires', { when: fmtDate(expires, { timeStyle: 'short' }) }) : '' }),
    h('p', { text: t('invite.tell') }),
    h('p', { class: 'muted small', text: t('invite.single_use') }),
    h('div', { class: 'form-actions' }, copy));
}

/**
 * Ask the broker for a code for a ticket and show it in `where`.
 * @param {string} ticketId
 * @param {HTMLElement} where
 * @param {any} app
 */
async function makeInvitation(ticketId, where, app) {
  try {
    const inv = await api.invite(ticketId);
    clear(where);
    where.appendChild(invitationBox(inv));
  } catch (e) {
    app.fail(e);
  }
}

/**
 * "New ticket and invitation code": a small form on the ticket list (engineers).
 * @param {any} app
 * @returns {HTMLElement}
 */
function newTicketForm(app) {
  const out = h('div', { class: 'invite-out' });
  const title = h('input', { id: 'new-ticket-title', required: true, maxlength: '200' });
  const org = h('input', { id: 'new-ticket-org', maxlength: '200' });
  const desc = h('textarea', { id: 'new-ticket-desc', rows: '2', maxlength: '10000' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'new-ticket-submit', text: t('invite.create') });
  const form = h('form', { class: 'panel form-grid', id: 'new-ticket-form', hidden: true },
    h('h2', { text: t('invite.new_title') }),
    h('p', { class: 'muted', text: t('invite.new_hint') }),
    h('label', { for: 'new-ticket-title', text: t('invite.field.title') }), title,
    h('label', { for: 'new-ticket-org', text: t('invite.field.organisation') }), org,
    h('label', { for: 'new-ticket-desc', text: t('invite.field.description') }), desc,
    h('div', { class: 'form-actions' }, submit),
    out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    try {
      const body = { title: title.value.trim() };
      if (org.value.trim()) body.organisation = org.value.trim();
      if (desc.value.trim()) body.description = desc.value.trim();
      const created = await api.createTicket(body);
      const tk = pick(created, 'ticket') || created;
      await makeInvitation(pick(tk, 'id'), out, app);
      out.appendChild(h('p', {}, h('a', { href: `#/ticket/${encodeURIComponent(pick(tk, 'id'))}`, text: t('invite.open_ticket') })));
    } catch (e) {
      app.fail(e);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** @param {any} app @returns {boolean} engineers and supervisors invite clients */
function canInvite(app) {
  return !!app.user && ['engineer', 'supervisor', 'admin'].includes(app.user.role);
}

/**
 * Render the ticket list.
 * @param {HTMLElement} root
 * @param {Record<string, string>} params
 * @param {any} app
 * @returns {() => void}
 */
export function renderTickets(root, params, app) {
  const body = h('tbody', { id: 'tickets-body' });
  const search = h('input', { type: 'search', id: 'ticket-search', placeholder: t('tickets.search'), 'aria-label': t('tickets.search'), value: params.q || '' });
  const status = h('select', { id: 'ticket-status', 'aria-label': t('tickets.col.status') },
    ['', ...Object.keys(STATUS_TONE)].map((s) => h('option', { value: s, text: s ? statusText(s) : t('tickets.any_status') })));
  status.value = params.status || '';
  let stopped = false;
  const load = async () => {
    try {
      const data = await api.tickets({ q: search.value.trim(), status: status.value });
      if (stopped) return;
      clear(body);
      const rows = api.listOf(data, 'tickets');
      if (!rows.length) body.appendChild(h('tr', {}, h('td', { colspan: '5', class: 'muted', text: t('tickets.none') })));
      for (const tk of rows) {
        const id = pick(tk, 'id', 'ticket_id');
        const st = pick(tk, 'status') || '';
        body.appendChild(h('tr', { dataset: { ticket: id } },
          h('td', {}, h('a', { href: `#/ticket/${encodeURIComponent(id)}`, class: 'ticket-link', text: pick(tk, 'title') || id })),
          h('td', { text: pick(tk, 'organisation') || '—' }),
          h('td', {}, st ? chip(statusText(st), STATUS_TONE[st] || 'muted') : null),
          h('td', { text: String(pick(tk, 'session_count', 'sessions_count') ?? (Array.isArray(tk.sessions) ? tk.sessions.length : '—')) }),
          h('td', { class: 'muted', text: when(pick(tk, 'updated_at', 'created_at')) })));
      }
    } catch (e) {
      app.fail(e);
    }
  };
  let debounce = null;
  search.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(load, 250); });
  status.addEventListener('change', load);
  const form = canInvite(app) ? newTicketForm(app) : null;
  const openForm = form ? h('button', { type: 'button', class: 'btn btn-primary', id: 'new-ticket', text: t('invite.new_button') }) : null;
  if (openForm) openForm.addEventListener('click', () => { form.hidden = !form.hidden; if (!form.hidden) form.querySelector('input').focus(); });
  root.appendChild(h('section', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', { text: t('tickets.title') }), h('div', { class: 'filters' }, search, status, openForm)),
    form,
    h('section', { class: 'panel table-wrap' },
      h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['title', 'organisation', 'status', 'sessions', 'updated'].map((c) => h('th', { scope: 'col', text: t(`tickets.col.${c}`) })))), // i18n-keys: tickets.col.title tickets.col.organisation tickets.col.status tickets.col.sessions tickets.col.updated
        body))));
  load();
  return () => { stopped = true; clearTimeout(debounce); };
}

/**
 * Render one ticket with its sessions.
 * @param {HTMLElement} root
 * @param {Record<string, string>} params
 * @param {any} app
 * @returns {() => void}
 */
export function renderTicket(root, params, app) {
  const page = h('section', { class: 'page', id: 'ticket-page' }, h('p', { class: 'muted', text: t('ticket.loading') }));
  root.appendChild(page);
  let stopped = false;
  (async () => {
    let tk;
    try {
      DIR = await people();
      const data = await api.ticket(params.id);
      tk = pick(data, 'ticket') || data;
    } catch (e) {
      if (stopped) return;
      clear(page);
      page.appendChild(h('div', { class: 'card error-card' }, h('h1', { text: t('ticket.unavailable') }), h('p', { text: e.message })));
      if (e.status === 401) app.fail(e);
      return;
    }
    if (stopped) return;
    const sessions = Array.isArray(tk.sessions) ? tk.sessions : [];
    const st = pick(tk, 'status') || '';
    const tid = pick(tk, 'id') || params.id;
    clear(page);
    const inviteOut = h('div', { class: 'invite-out' });
    const inviteBtn = canInvite(app) && st !== 'closed'
      ? h('button', { type: 'button', class: 'btn btn-primary', id: 'invite-client', text: t('invite.button') }) : null;
    if (inviteBtn) inviteBtn.addEventListener('click', () => makeInvitation(tid, inviteOut, app));
    page.appendChild(h('div', { class: 'page-head' },
      h('div', {},
        h('p', { class: 'eyebrow', title: tid, text: t('ticket.eyebrow', { ref: String(tid).slice(0, 8) }) }),
        h('h1', { id: 'ticket-title', text: pick(tk, 'title') || t('ticket.untitled') })),
      h('div', { class: 'head-tools' }, st ? chip(statusText(st), STATUS_TONE[st] || 'muted') : null, inviteBtn)));
    page.appendChild(inviteOut);
    if (canInvite(app)) page.appendChild(statusControl(tid, st, app)); // issue 19: lifecycle moves
    page.appendChild(h('section', { class: 'panel ticket-facts' },
      h('dl', { class: 'facts' },
        fact(t('ticket.fact.organisation'), pick(tk, 'organisation')),
        fact(t('ticket.fact.tier'), pick(tk, 'tier')),
        fact(t('ticket.fact.external_ref'), pick(tk, 'external_ref')),
        fact(t('ticket.fact.created'), when(pick(tk, 'created_at'))),
        fact(t('ticket.fact.assignee'), person(pick(tk, 'assignee'), app)),
        fact(t('ticket.fact.owner'), person(pick(tk, 'owner'), app)),
        fact(t('ticket.fact.client'), pick(tk, 'client_name'))),
      h('h2', { text: t('ticket.description') }),
      h('p', { class: 'ticket-desc', id: 'ticket-description', text: pick(tk, 'description') || t('ticket.no_description') })));
    page.appendChild(slaPanel(tid, app, canInvite(app))); // issue 19: priority, clocks, escalations
    const body = h('tbody', { id: 'ticket-sessions' });
    if (!sessions.length) body.appendChild(h('tr', {}, h('td', { colspan: '6', class: 'muted', text: t('ticket.no_sessions') })));
    for (const s of sessions) {
      const started = toMs(pick(s, 'started_at', 'created_at', 'requested_at'));
      const ended = toMs(pick(s, 'ended_at'));
      body.appendChild(h('tr', { dataset: { session: pick(s, 'id', 'session_id') } },
        h('td', { text: when(started) }),
        h('td', { text: pick(s, 'engineer.name', 'engineer_name', 'engineer.username') || person(s.engineer_id, app) || '—' }),
        h('td', {}, outcomeChip(s)),
        h('td', { text: started && ended ? duration(ended - started) : '—' }),
        h('td', { class: 'resolution', text: pick(s, 'resolution') || '—' }),
        h('td', {}, ratingView(pick(s, 'rating', 'rating_score')))));
    }
    page.appendChild(h('section', { class: 'panel table-wrap' },
      h('h2', { text: t('ticket.sessions') }),
      h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['started', 'engineer', 'outcome', 'duration', 'resolution', 'rating'].map((c) => h('th', { scope: 'col', text: t(`ticket.col.${c}`) })))), // i18n-keys: ticket.col.started ticket.col.engineer ticket.col.outcome ticket.col.duration ticket.col.resolution ticket.col.rating
        body)));
    const history = h('tbody', { id: 'ticket-history' });
    page.appendChild(h('section', { class: 'panel table-wrap' },
      h('h2', { text: t('ticket.history') }),
      h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['when', 'who', 'what', 'change'].map((c) => h('th', { scope: 'col', text: t(`ticket.history.col.${c}`) })))), // i18n-keys: ticket.history.col.when ticket.history.col.who ticket.history.col.what ticket.history.col.change
        history)));
    try {
      const changes = api.listOf(await api.ticketHistory(tid), 'history');
      if (stopped) return;
      if (!changes.length) history.appendChild(h('tr', {}, h('td', { colspan: '4', class: 'muted', text: t('ticket.history.none') })));
      for (const c of changes) history.appendChild(historyRow(c, app));
    } catch (e) {
      if (!stopped) app.fail(e);
    }
  })();
  return () => { stopped = true; };
}

// i18n-keys: ticket.history.field.status ticket.history.field.assignee ticket.history.field.owner
// i18n-keys: ticket.history.field.title ticket.history.field.description ticket.history.field.organisation
// i18n-keys: ticket.history.field.tier ticket.history.field.external_ref ticket.history.field.resolution
// i18n-keys: ticket.history.field.skills ticket.history.field.priority ticket.history.field.client_comment
const HISTORY_FIELDS = ['status', 'assignee', 'owner', 'title', 'description', 'organisation', 'tier', 'external_ref', 'resolution', 'skills', 'priority', 'client_comment'];

/**
 * One history entry: when, who, which field, from → to (statuses and people in words).
 * @param {{at: string, actor_id: string|null, actor_name: string|null, field: string, from: string|null, to: string|null}} c
 * @param {any} app
 * @returns {HTMLElement}
 */
function historyRow(c, app) {
  const value = (v) => {
    if (v === null || v === undefined || v === '') return '—';
    if (c.field === 'status') return statusText(v);
    if (c.field === 'assignee' || c.field === 'owner') return person(v, app);
    return String(v);
  };
  const change = c.from === null && c.field === 'status' ? value(c.to) : t('ticket.history.from_to', { from: value(c.from), to: value(c.to) });
  return h('tr', { dataset: { field: c.field } },
    h('td', { class: 'muted', text: fmtDate(toMs(c.at), { dateStyle: 'short', timeStyle: 'short' }) }),
    h('td', { text: c.actor_name || person(c.actor_id, app) || t('ticket.history.system') }),
    h('td', { text: HISTORY_FIELDS.includes(c.field) ? t(`ticket.history.field.${c.field}`) : c.field }),
    h('td', { class: 'history-change', text: change }));
}

/**
 * A user id for people: "you" for the signed-in user, else their name (people.js).
 * @param {string|null} id
 * @param {any} app
 * @returns {string|null}
 */
function person(id, app) {
  return nameOf(DIR, id, app);
}

/** The staff directory of the page shown (names for ids; pages load it first). */
let DIR = new Map();

function fact(label, value) {
  if (value === undefined || value === null || value === '') return null;
  return [h('dt', { text: label }), h('dd', { text: String(value) })];
}

/**
 * The ticket's status control: only the moves the lifecycle allows from the current
 * status (GET /ticket-lifecycle, broker/lifecycle.py); the broker checks again (409).
 * @param {string} tid
 * @param {string} current
 * @param {any} app
 * @returns {HTMLElement}
 */
function statusControl(tid, current, app) {
  const sel = h('select', { id: 'status-next', 'aria-label': t('ticket.status_change.label') },
    h('option', { value: '', text: t('ticket.status_change.pick') }));
  const btn = h('button', { type: 'button', class: 'btn btn-secondary', id: 'status-apply', text: t('ticket.status_change.apply'), disabled: true });
  const note = h('p', { class: 'muted small', id: 'status-note', role: 'status' });
  api.request('GET', '/ticket-lifecycle').then((lc) => {
    const moves = (lc.transitions && lc.transitions[current]) || [];
    for (const st of moves) sel.appendChild(h('option', { value: st, text: statusText(st) }));
    if (!moves.length) note.textContent = t('ticket.status_change.none');
  }).catch((e) => { note.textContent = e.message; });
  sel.addEventListener('change', () => { btn.disabled = !sel.value; });
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    try {
      await api.request('PATCH', `/tickets/${encodeURIComponent(tid)}`, { status: sel.value });
      toast(t('ticket.status_change.done', { status: statusText(sel.value) }), 'info');
      app.route();
    } catch (e) { note.textContent = e.message; btn.disabled = false; }
  });
  return h('section', { class: 'panel status-control', id: 'status-control' },
    h('label', { for: 'status-next', text: t('ticket.status_change.heading', { status: statusText(current || 'new') }) }),
    h('div', { class: 'form-actions' }, sel, btn), note);
}
