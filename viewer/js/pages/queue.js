/**
 * Queue page: waiting clients ordered by SLA deadline, with a live countdown, skills and a
 * join button. Supervisors also see every live session and may join as observer.
 * @module pages/queue
 */

import * as api from '../api.js';
import { h, clear, pick, toMs, duration, chip, stateChip, when } from '../dom.js';

const POLL_MS = 4000;
const WARN_MS = 2 * 60 * 1000;
const ACTIVE = new Set(['waiting', 'consent_pending', 'live', 'paused']);

/**
 * Normalise a queue item from the API.
 * @param {any} it
 */
export function queueItem(it) {
  return {
    sessionId: pick(it, 'session_id', 'id', 'session.id'),
    ticketId: pick(it, 'ticket.id', 'ticket_id'),
    title: pick(it, 'ticket.title', 'title', 'ticket_title', 'description') || '',
    description: pick(it, 'description', 'ticket.description') || '',
    client: pick(it, 'client_name', 'client', 'ticket.client_name') || 'Client',
    organisation: pick(it, 'organisation', 'ticket.organisation') || '',
    tier: pick(it, 'tier', 'ticket.tier') || '',
    skills: pick(it, 'skills', 'required_skills', 'ticket.skills') || [],
    requestedAt: toMs(pick(it, 'requested_at', 'created_at', 'requested_at_ms', 'created_at_ms')),
    // seconds_left is relative to the broker's clock, so a skewed browser clock does not matter.
    deadline: typeof it.seconds_left === 'number' ? Date.now() + it.seconds_left * 1000
      : toMs(pick(it, 'sla_deadline', 'deadline', 'sla_deadline_ms', 'deadline_ms', 'due_at')),
    state: pick(it, 'state') || 'waiting',
    engineer: pick(it, 'engineer.name', 'engineer_name', 'engineer.username') || '',
    escalated: Boolean(pick(it, 'escalated')),
  };
}

/**
 * The SLA countdown chip for a deadline.
 * @param {number|null} deadline ms
 * @param {number} now ms
 * @returns {{text: string, tone: string}}
 */
export function slaLook(deadline, now) {
  if (deadline === null) return { text: 'No SLA', tone: 'muted' };
  const left = deadline - now;
  if (left < 0) return { text: `SLA missed ${duration(left)} ago`, tone: 'danger' };
  return { text: `${duration(left)} left`, tone: left < WARN_MS ? 'warn' : 'ok' };
}

/**
 * Render the queue page.
 * @param {HTMLElement} root
 * @param {Record<string, string>} params
 * @param {any} app
 * @returns {() => void} cleanup
 */
export function renderQueue(root, params, app) {
  const list = h('div', { class: 'queue-list', id: 'queue-list' });
  const count = chip('…', 'muted');
  count.id = 'queue-count';
  const liveList = h('div', { class: 'live-list', id: 'live-list' });
  const liveSection = app.isSupervisor
    ? h('section', { class: 'panel', id: 'live-sessions' },
      h('div', { class: 'panel-head' }, h('h2', { text: 'Live sessions' }), h('span', { class: 'muted', text: 'Observe any session; the client is asked to consent.' })),
      liveList)
    : null;
  root.appendChild(h('section', { class: 'page' },
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', { text: app.isSupervisor ? 'All queues' : 'Queue' }),
        h('p', { class: 'muted', text: 'Clients waiting for help, most urgent first.' })),
      count),
    h('section', { class: 'panel' }, list),
    liveSection));

  let items = [];
  let timer = null;
  let ticker = null;
  let stopped = false;

  const paintCountdowns = () => {
    const now = Date.now();
    for (const el of list.querySelectorAll('[data-deadline]')) {
      const d = el.dataset.deadline ? Number(el.dataset.deadline) : null;
      const look = slaLook(d, now);
      el.textContent = look.text;
      el.className = `chip chip-${look.tone} sla`;
    }
    for (const el of list.querySelectorAll('[data-since]')) {
      el.textContent = `waiting ${duration(now - Number(el.dataset.since))}`;
    }
  };

  const join = async (item, as, button) => {
    button.disabled = true;
    app.navigate(`#/session/${encodeURIComponent(item.sessionId)}${as === 'observer' ? '?as=observer' : ''}`);
  };

  const paint = () => {
    clear(list);
    count.textContent = `${items.length} waiting`;
    count.className = `chip chip-${items.length ? 'info' : 'muted'}`;
    if (!items.length) {
      list.appendChild(h('div', { class: 'empty' },
        h('div', { class: 'empty-mark', 'aria-hidden': 'true' }),
        h('p', { text: 'Nobody is waiting. New requests appear here automatically.' })));
      return;
    }
    for (const it of items) {
      const skills = (Array.isArray(it.skills) ? it.skills : String(it.skills).split(',')).filter(Boolean);
      const joinBtn = h('button', { class: 'btn btn-primary join', type: 'button', text: 'Join', dataset: { session: it.sessionId } });
      joinBtn.addEventListener('click', () => join(it, 'engineer', joinBtn));
      const observeBtn = app.isSupervisor
        ? h('button', { class: 'btn btn-secondary observe', type: 'button', text: 'Observe', dataset: { session: it.sessionId } })
        : null;
      if (observeBtn) observeBtn.addEventListener('click', () => join(it, 'observer', observeBtn));
      list.appendChild(h('article', { class: `queue-item${it.escalated ? ' escalated' : ''}`, dataset: { session: it.sessionId } },
        h('div', { class: 'qi-main' },
          h('div', { class: 'qi-title-row' },
            h('h3', { class: 'qi-title', text: it.title || 'Untitled request' }),
            it.tier ? chip(it.tier, 'accent') : null,
            it.escalated ? chip('Escalated', 'danger') : null,
            it.state !== 'waiting' ? stateChip(it.state) : null),
          h('p', { class: 'qi-meta' },
            h('span', { class: 'qi-client', text: it.client }),
            it.organisation ? h('span', { class: 'qi-org', text: ` · ${it.organisation}` }) : null,
            it.ticketId ? h('a', { class: 'qi-ticket', href: `#/ticket/${encodeURIComponent(it.ticketId)}`, text: ` · ticket ${String(it.ticketId).slice(0, 8)}`, title: `Ticket ${it.ticketId}` }) : null),
          it.description && it.description !== it.title ? h('p', { class: 'qi-desc', text: it.description }) : null,
          skills.length ? h('div', { class: 'skills' }, skills.map((s) => h('span', { class: 'skill', text: s }))) : null),
        h('div', { class: 'qi-side' },
          h('span', { class: 'chip sla', dataset: { deadline: it.deadline === null ? '' : String(it.deadline) } }),
          it.requestedAt !== null ? h('span', { class: 'muted small', dataset: { since: String(it.requestedAt) } }) : null,
          h('div', { class: 'qi-actions' }, joinBtn, observeBtn))));
    }
    paintCountdowns();
  };

  const paintLive = (sessions) => {
    clear(liveList);
    if (!sessions.length) {
      liveList.appendChild(h('p', { class: 'muted', text: 'No live sessions right now.' }));
      return;
    }
    for (const s of sessions) {
      const b = h('button', { class: 'btn btn-secondary observe', type: 'button', text: 'Observe', dataset: { session: s.sessionId } });
      b.addEventListener('click', () => join(s, 'observer', b));
      liveList.appendChild(h('div', { class: 'live-row', dataset: { session: s.sessionId } },
        stateChip(s.state),
        h('a', { class: 'live-title', href: s.ticketId ? `#/ticket/${encodeURIComponent(s.ticketId)}` : '#/tickets', text: s.title || `${s.client} · ticket ${String(s.ticketId || '').slice(0, 8)}` }),
        h('span', { class: 'muted', text: s.engineer ? `with ${s.engineer}` : s.client }),
        h('span', { class: 'muted small', text: s.requestedAt ? `since ${when(s.requestedAt)}` : '' }),
        b));
    }
  };

  const load = async () => {
    try {
      const data = await api.queue();
      items = api.listOf(data, 'queue').map(queueItem)
        .sort((a, b) => (a.deadline ?? Infinity) - (b.deadline ?? Infinity));
      if (app.isSupervisor) {
        // Escalated requests (SLA about to be missed) stand out for supervisors.
        const esc = await api.escalations().catch(() => null);
        const escalated = new Set(api.listOf(esc, 'escalations').map((e) => e.session_id));
        for (const it of items) if (escalated.has(it.sessionId)) it.escalated = true;
      }
      if (!stopped) paint();
      if (app.isSupervisor && !stopped) {
        const s = await api.sessions();
        const live = api.listOf(s, 'sessions').map(queueItem).filter((x) => ACTIVE.has(x.state) && x.state !== 'waiting');
        if (!stopped) paintLive(live);
      }
    } catch (e) {
      app.fail(e);
    }
    if (!stopped) timer = setTimeout(load, POLL_MS);
  };

  load();
  ticker = setInterval(paintCountdowns, 1000);
  return () => {
    stopped = true;
    clearTimeout(timer);
    clearInterval(ticker);
  };
}
