/**
 * Ticket pages: the ticket list and one ticket with its sessions (outcome and rating, G9).
 * @module pages/tickets
 */

import * as api from '../api.js';
import { h, clear, pick, chip, stateChip, when, toMs, duration } from '../dom.js';

const OUTCOMES = {
  killed_by_client: ['Ended by the client', 'danger'],
  ended_by_engineer: ['Resolved by the engineer', 'ok'],
  denied: ['Denied by the client', 'warn'],
  timed_out: ['Timed out', 'warn'],
  failed: ['Failed', 'danger'],
  broker_shutdown: ['Broker shut down', 'muted'],
};

const STATUS_TONE = { open: 'info', pending: 'warn', in_progress: 'info', resolved: 'ok', closed: 'muted' };

/**
 * Chip for a session's outcome.
 * @param {any} s
 * @returns {HTMLElement}
 */
function outcomeChip(s) {
  const reason = pick(s, 'end_reason', 'outcome', 'reason');
  if (reason && OUTCOMES[reason]) return chip(...OUTCOMES[reason]);
  if (reason) return chip(String(reason), 'muted');
  return stateChip(pick(s, 'state') || '');
}

/**
 * Stars for a 1–5 rating (text, not markup).
 * @param {any} rating
 * @returns {HTMLElement}
 */
function ratingView(rating) {
  const score = typeof rating === 'number' ? rating : pick(rating, 'score');
  if (!score) return h('span', { class: 'muted', text: 'not rated' });
  const comment = typeof rating === 'object' ? pick(rating, 'comment') : pick(rating, 'rating_comment');
  return h('span', { class: 'rating', title: `${score} of 5` },
    h('span', { class: 'stars', 'aria-label': `${score} of 5`, text: '★'.repeat(score) + '☆'.repeat(5 - score) }),
    comment ? h('span', { class: 'rating-comment', text: ` “${comment}”` }) : null);
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
  const search = h('input', { type: 'search', id: 'ticket-search', placeholder: 'Search tickets', value: params.q || '' });
  const status = h('select', { id: 'ticket-status' },
    ['', 'open', 'in_progress', 'resolved', 'closed'].map((s) => h('option', { value: s, text: s ? s.replace('_', ' ') : 'Any status' })));
  status.value = params.status || '';
  let stopped = false;
  const load = async () => {
    try {
      const data = await api.tickets({ q: search.value.trim(), status: status.value });
      if (stopped) return;
      clear(body);
      const rows = api.listOf(data, 'tickets');
      if (!rows.length) body.appendChild(h('tr', {}, h('td', { colspan: '5', class: 'muted', text: 'No tickets match.' })));
      for (const t of rows) {
        const id = pick(t, 'id', 'ticket_id');
        const st = pick(t, 'status') || '';
        body.appendChild(h('tr', { dataset: { ticket: id } },
          h('td', {}, h('a', { href: `#/ticket/${encodeURIComponent(id)}`, class: 'ticket-link', text: pick(t, 'title') || id })),
          h('td', { text: pick(t, 'organisation') || '—' }),
          h('td', {}, st ? chip(st.replace('_', ' '), STATUS_TONE[st] || 'muted') : null),
          h('td', { text: String(pick(t, 'session_count', 'sessions_count') ?? (Array.isArray(t.sessions) ? t.sessions.length : '—')) }),
          h('td', { class: 'muted', text: when(pick(t, 'updated_at', 'created_at')) })));
      }
    } catch (e) {
      app.fail(e);
    }
  };
  let debounce = null;
  search.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(load, 250); });
  status.addEventListener('change', load);
  root.appendChild(h('section', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', { text: 'Tickets' }), h('div', { class: 'filters' }, search, status)),
    h('section', { class: 'panel' },
      h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['Title', 'Organisation', 'Status', 'Sessions', 'Updated'].map((c) => h('th', { text: c })))),
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
  const page = h('section', { class: 'page', id: 'ticket-page' }, h('p', { class: 'muted', text: 'Loading ticket…' }));
  root.appendChild(page);
  let stopped = false;
  (async () => {
    let t;
    try {
      const data = await api.ticket(params.id);
      t = pick(data, 'ticket') || data;
    } catch (e) {
      if (stopped) return;
      clear(page);
      page.appendChild(h('div', { class: 'card error-card' }, h('h1', { text: 'Ticket not available' }), h('p', { text: e.message })));
      if (e.status === 401) app.fail(e);
      return;
    }
    if (stopped) return;
    const sessions = Array.isArray(t.sessions) ? t.sessions : [];
    const st = pick(t, 'status') || '';
    clear(page);
    page.appendChild(h('div', { class: 'page-head' },
      h('div', {},
        h('p', { class: 'eyebrow', text: `Ticket ${pick(t, 'id') || params.id}` }),
        h('h1', { id: 'ticket-title', text: pick(t, 'title') || 'Untitled ticket' })),
      st ? chip(st.replace('_', ' '), STATUS_TONE[st] || 'muted') : null));
    page.appendChild(h('section', { class: 'panel ticket-facts' },
      h('dl', { class: 'facts' },
        fact('Organisation', pick(t, 'organisation')),
        fact('Tier', pick(t, 'tier')),
        fact('External ref', pick(t, 'external_ref')),
        fact('Created', when(pick(t, 'created_at'))),
        fact('Client', pick(t, 'client_name'))),
      h('h2', { text: 'Description' }),
      h('p', { class: 'ticket-desc', id: 'ticket-description', text: pick(t, 'description') || 'No description.' })));
    const body = h('tbody', { id: 'ticket-sessions' });
    if (!sessions.length) body.appendChild(h('tr', {}, h('td', { colspan: '6', class: 'muted', text: 'No sessions yet.' })));
    for (const s of sessions) {
      const started = toMs(pick(s, 'started_at', 'created_at', 'requested_at'));
      const ended = toMs(pick(s, 'ended_at'));
      body.appendChild(h('tr', { dataset: { session: pick(s, 'id', 'session_id') } },
        h('td', { text: when(started) }),
        h('td', { text: pick(s, 'engineer.name', 'engineer_name', 'engineer.username') || (s.engineer_id ? `#${String(s.engineer_id).slice(0, 8)}` : '—') }),
        h('td', {}, outcomeChip(s)),
        h('td', { text: started && ended ? duration(ended - started) : '—' }),
        h('td', { class: 'resolution', text: pick(s, 'resolution') || '—' }),
        h('td', {}, ratingView(pick(s, 'rating', 'rating_score')))));
    }
    page.appendChild(h('section', { class: 'panel' },
      h('h2', { text: 'Sessions' }),
      h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['Started', 'Engineer', 'Outcome', 'Duration', 'Resolution', 'Rating'].map((c) => h('th', { text: c })))),
        body)));
  })();
  return () => { stopped = true; };
}

function fact(label, value) {
  if (value === undefined || value === null || value === '') return null;
  return [h('dt', { text: label }), h('dd', { text: String(value) })];
}
