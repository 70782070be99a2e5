/**
 * Queue page: waiting clients ordered by SLA deadline, with a live countdown, skills and a
 * join button. Supervisors also see every live session and may join as observer.
 * @module pages/queue
 */

import * as api from '../api.js';
import { escalationBanner } from './sla_banner.js';
import { h, clear, pick, toMs, duration, chip, stateChip, when } from '../dom.js';
import { t } from '../i18n.js';
import { Alerts } from '../notify.js';
import { assignControl, engineers, handoverPanel } from './routing.js'; // issue 19

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
    client: pick(it, 'client_name', 'client', 'ticket.client_name') || t('queue.client'),
    organisation: pick(it, 'organisation', 'ticket.organisation') || '',
    tier: pick(it, 'tier', 'ticket.tier') || '',
    skills: pick(it, 'skills', 'required_skills', 'ticket.skills') || [],
    requestedAt: toMs(pick(it, 'requested_at', 'created_at', 'requested_at_ms', 'created_at_ms')),
    // seconds_left is relative to the broker's clock, so a skewed browser clock does not matter.
    deadline: typeof it.seconds_left === 'number' ? Date.now() + it.seconds_left * 1000
      : toMs(pick(it, 'sla_deadline', 'deadline', 'sla_deadline_ms', 'deadline_ms', 'due_at')),
    state: pick(it, 'state') || 'waiting',
    engineer: pick(it, 'engineer.name', 'engineer_name', 'engineer.username') || '',
    assignedToMe: Boolean(pick(it, 'assigned_to_me')),
    assignedTo: pick(it, 'assigned_engineer_id') || '',
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
  if (deadline === null) return { text: t('queue.sla.none'), tone: 'muted' };
  const left = deadline - now;
  if (left < 0) return { text: t('queue.sla.missed', { time: duration(left) }), tone: 'danger' };
  return { text: t('queue.sla.left', { time: duration(left) }), tone: left < WARN_MS ? 'warn' : 'ok' };
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
      h('div', { class: 'panel-head' }, h('h2', { text: t('queue.live.title') }), h('span', { class: 'muted', text: t('queue.live.hint') })),
      liveList)
    : null;
  // Search and filters: text over title, client, organisation, ticket; tier; escalated.
  const search = h('input', { type: 'search', id: 'queue-search', placeholder: t('queue.search.placeholder'), 'aria-label': t('queue.search.label') });
  const tierSel = h('select', { id: 'queue-tier', 'aria-label': t('queue.filter.tier') }, h('option', { value: '', text: t('queue.filter.all_tiers') }));
  const escOnly = h('input', { type: 'checkbox', id: 'queue-escalated' });
  const alerts = new Alerts(t('nav.queue'));
  const soundBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', id: 'queue-sound', 'aria-pressed': String(alerts.sound) });
  const notifyBtn = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', id: 'queue-notify' });
  const paintAlertButtons = () => {
    soundBtn.textContent = alerts.sound ? t('queue.sound.on') : t('queue.sound.off');
    soundBtn.setAttribute('aria-pressed', String(alerts.sound));
    notifyBtn.textContent = t(`queue.notify.${alerts.notifyState()}`); // i18n-keys: queue.notify.on queue.notify.off queue.notify.denied queue.notify.unsupported
    notifyBtn.disabled = alerts.notifyState() !== 'off';
  };
  soundBtn.addEventListener('click', () => { alerts.setSound(!alerts.sound); paintAlertButtons(); });
  notifyBtn.addEventListener('click', async () => { await alerts.askNotify(); paintAlertButtons(); });
  paintAlertButtons();
  const announce = h('p', { class: 'visually-hidden', id: 'queue-announce', 'aria-live': 'polite' });
  // routing (issue 19): sessions handed to me; the first line assigns by hand.
  const handovers = handoverPanel(app);
  /** @type {any[]} engineers for the assign control (supervisors) */
  let staff = [];
  root.appendChild(h('section', { class: 'page' },
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', { text: app.isSupervisor ? t('queue.title.all') : t('queue.title') }),
        h('p', { class: 'muted', text: t('queue.subtitle') })),
      h('div', { class: 'head-tools' }, soundBtn, notifyBtn, count)),
    h('div', { class: 'filters queue-filters', role: 'search' },
      search, tierSel,
      h('label', { class: 'check', for: 'queue-escalated' }, escOnly, t('queue.filter.escalated'))),
    handovers.el,
    h('section', { class: 'panel' }, list),
    announce,
    liveSection));
  for (const el of [search, tierSel, escOnly]) el.addEventListener('input', () => paint());
  if (app.isSupervisor) root.querySelector('.page').appendChild(cannedPanel(app));
  // SLA escalations (issue 19): open levels for supervisors, one's own for engineers.
  const escalations = escalationBanner(app);
  root.querySelector('.page .page-head').after(escalations.el);
  /** @type {Set<string>|null} sessions seen so far (null before the first load) */
  let seen = null;

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
      el.textContent = t('queue.waited', { time: duration(now - Number(el.dataset.since)) });
    }
  };

  const join = async (item, as, button) => {
    button.disabled = true;
    app.navigate(`#/session/${encodeURIComponent(item.sessionId)}${as === 'observer' ? '?as=observer' : ''}`);
  };

  const matches = (it) => {
    const q = search.value.trim().toLowerCase();
    if (q && ![it.title, it.client, it.organisation, it.ticketId, it.description, ...(it.skills || [])]
      .some((v) => String(v || '').toLowerCase().includes(q))) return false;
    if (tierSel.value && it.tier !== tierSel.value) return false;
    if (escOnly.checked && !it.escalated) return false;
    return true;
  };

  const paintTiers = () => {
    const tiers = [...new Set(items.map((it) => it.tier).filter(Boolean))].sort();
    const have = [...tierSel.options].map((o) => o.value).filter(Boolean);
    if (tiers.join() === have.join()) return;
    const keep = tierSel.value;
    while (tierSel.options.length > 1) tierSel.remove(1);
    for (const tier of tiers) tierSel.appendChild(h('option', { value: tier, text: tier }));
    tierSel.value = tiers.includes(keep) ? keep : '';
  };

  const paint = () => {
    clear(list);
    paintTiers();
    const shown = items.filter(matches);
    count.textContent = t('queue.count', { count: items.length });
    count.className = `chip chip-${items.length ? 'info' : 'muted'}`;
    alerts.setCount(items.length);
    if (!items.length || !shown.length) {
      list.appendChild(h('div', { class: 'empty' },
        h('div', { class: 'empty-mark', 'aria-hidden': 'true' }),
        h('p', { text: items.length ? t('queue.filter.none') : t('queue.empty') })));
      return;
    }
    for (const it of shown) {
      const skills = (Array.isArray(it.skills) ? it.skills : String(it.skills).split(',')).filter(Boolean);
      const joinBtn = h('button', { class: 'btn btn-primary join', type: 'button', text: t('queue.join'), dataset: { session: it.sessionId } });
      joinBtn.addEventListener('click', () => join(it, 'engineer', joinBtn));
      const observeBtn = app.isSupervisor
        ? h('button', { class: 'btn btn-secondary observe', type: 'button', text: t('queue.observe'), dataset: { session: it.sessionId } })
        : null;
      if (observeBtn) observeBtn.addEventListener('click', () => join(it, 'observer', observeBtn));
      list.appendChild(h('article', { class: `queue-item${it.escalated ? ' escalated' : ''}`, dataset: { session: it.sessionId } },
        h('div', { class: 'qi-main' },
          h('div', { class: 'qi-title-row' },
            h('h3', { class: 'qi-title', text: it.title || t('queue.untitled') }),
            it.tier ? chip(it.tier, 'accent') : null,
            it.escalated ? chip(t('queue.escalated'), 'danger') : null,
            it.state !== 'waiting' ? stateChip(it.state) : null),
          h('p', { class: 'qi-meta' },
            h('span', { class: 'qi-client', text: it.client }),
            it.organisation ? h('span', { class: 'qi-org', text: ` · ${it.organisation}` }) : null,
            it.ticketId ? h('a', { class: 'qi-ticket', href: `#/ticket/${encodeURIComponent(it.ticketId)}`, text: ` · ${t('queue.ticket_ref', { ref: String(it.ticketId).slice(0, 8) })}`, title: t('queue.ticket_full', { id: it.ticketId }) }) : null),
          it.description && it.description !== it.title ? h('p', { class: 'qi-desc', text: it.description }) : null,
          skills.length ? h('div', { class: 'skills' }, skills.map((s) => h('span', { class: 'skill', text: s }))) : null),
        h('div', { class: 'qi-side' },
          h('span', { class: 'chip sla', dataset: { deadline: it.deadline === null ? '' : String(it.deadline) } }),
          it.requestedAt !== null ? h('span', { class: 'muted small', dataset: { since: String(it.requestedAt) } }) : null,
          h('div', { class: 'qi-actions' }, joinBtn, observeBtn),
          it.assignedToMe ? chip(t('assign.mine'), 'info') : null,
          app.isSupervisor ? assignControl(it, staff, app, () => load()) : null)));
    }
    paintCountdowns();
  };

  const paintLive = (sessions) => {
    clear(liveList);
    if (!sessions.length) {
      liveList.appendChild(h('p', { class: 'muted', text: t('queue.live.none') }));
      return;
    }
    for (const s of sessions) {
      const b = h('button', { class: 'btn btn-secondary observe', type: 'button', text: t('queue.observe'), dataset: { session: s.sessionId } });
      b.addEventListener('click', () => join(s, 'observer', b));
      liveList.appendChild(h('div', { class: 'live-row', dataset: { session: s.sessionId } },
        stateChip(s.state),
        h('a', { class: 'live-title', href: s.ticketId ? `#/ticket/${encodeURIComponent(s.ticketId)}` : '#/tickets', text: s.title || `${s.client} · ${t('queue.ticket_ref', { ref: String(s.ticketId || '').slice(0, 8) })}` }),
        h('span', { class: 'muted', text: s.engineer ? t('queue.live.with', { name: s.engineer }) : s.client }),
        h('span', { class: 'muted small', text: s.requestedAt ? t('queue.live.since', { when: when(s.requestedAt) }) : '' }),
        b));
    }
  };

  const load = async () => {
    try {
      const data = await api.queue();
      await handovers.refresh().catch(() => {});
      if (app.isSupervisor) staff = await engineers().catch(() => staff);
      items = api.listOf(data, 'queue').map(queueItem)
        .sort((a, b) => (a.deadline ?? Infinity) - (b.deadline ?? Infinity));
      if (app.isSupervisor) {
        // Escalated requests (SLA about to be missed) stand out for supervisors.
        const esc = await api.escalations().catch(() => null);
        const escalated = new Set(api.listOf(esc, 'escalations').map((e) => e.session_id));
        for (const it of items) if (escalated.has(it.sessionId)) it.escalated = true;
      }
      // New requests since the last poll: sound, desktop notification, screen-reader line.
      const fresh = seen === null ? [] : items.filter((it) => !seen.has(it.sessionId));
      seen = new Set(items.map((it) => it.sessionId));
      if (fresh.length && !stopped) {
        const text = fresh.length === 1
          ? t('queue.new.one', { title: fresh[0].title || t('queue.untitled'), client: fresh[0].client })
          : t('queue.new.many', { count: fresh.length });
        announce.textContent = text;
        alerts.ring(t('queue.new.title'), text);
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
    alerts.close();
    escalations.stop();
  };
}

/**
 * Supervisors keep the canned chat replies engineers pick from on the session page.
 * @param {any} app
 * @returns {HTMLElement}
 */
function cannedPanel(app) {
  const list = h('ul', { class: 'canned-list', id: 'canned-list' });
  const title = h('input', { id: 'canned-title', maxlength: '100', required: true });
  const text = h('textarea', { id: 'canned-text', rows: '2', maxlength: '4000', required: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'canned-add', text: t('queue.canned.add') });
  const cancel = h('button', { type: 'button', class: 'btn btn-ghost', id: 'canned-cancel', text: t('queue.canned.cancel'), hidden: true });
  /** The reply being edited (null: the form adds a new one). */
  let editing = null;
  const setEditing = (reply) => {
    editing = reply;
    title.value = reply ? reply.title : '';
    text.value = reply ? reply.text : '';
    submit.textContent = t(reply ? 'queue.canned.save' : 'queue.canned.add');
    cancel.hidden = !reply;
    if (reply) title.focus();
  };
  const load = async () => {
    try {
      const data = await api.cannedReplies();
      clear(list);
      const rows = api.listOf(data, 'replies');
      if (!rows.length) list.appendChild(h('li', { class: 'muted', text: t('queue.canned.none') }));
      for (const r of rows) {
        const edit = h('button', { type: 'button', class: 'btn btn-sm btn-ghost canned-edit', text: t('queue.canned.edit'), 'aria-label': t('queue.canned.edit_named', { title: r.title }) });
        edit.addEventListener('click', () => setEditing(r));
        const del = h('button', { type: 'button', class: 'btn btn-sm btn-ghost canned-delete', text: t('queue.canned.delete'), 'aria-label': t('queue.canned.delete_named', { title: r.title }) });
        del.addEventListener('click', async () => {
          try {
            await api.deleteCannedReply(r.id);
            if (editing && editing.id === r.id) setEditing(null);
            await load();
          } catch (e) { app.fail(e); }
        });
        list.appendChild(h('li', { class: 'canned-item', dataset: { reply: r.id } },
          h('strong', { class: 'canned-item-title', text: r.title }), h('span', { class: 'muted canned-item-text', text: ` — ${r.text}` }), ' ', edit, ' ', del));
      }
    } catch (e) { app.fail(e); }
  };
  const form = h('form', { class: 'canned-form', id: 'canned-form' },
    h('label', { for: 'canned-title', text: t('queue.canned.title_field') }), title,
    h('label', { for: 'canned-text', text: t('queue.canned.text_field') }), text,
    h('div', { class: 'form-actions' }, submit, cancel));
  cancel.addEventListener('click', () => setEditing(null));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      if (editing) await api.updateCannedReply(editing.id, { title: title.value.trim(), text: text.value.trim() });
      else await api.addCannedReply(title.value.trim(), text.value.trim());
      setEditing(null);
      await load();
    } catch (e) { app.fail(e); }
  });
  load();
  return h('section', { class: 'panel canned-panel', id: 'canned-panel' },
    h('div', { class: 'panel-head' }, h('h2', { text: t('queue.canned.heading') }), h('span', { class: 'muted', text: t('queue.canned.hint') })),
    list, form);
}
