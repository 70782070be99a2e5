/**
 * Routing, presence, transfer and invitations in the viewer (issue 19, docs/workflow.md):
 * the header's presence switch, the queue's "handed to you" panel and the first line's
 * assign control, and the session page's transfer / invite section.
 * @module pages/routing
 */

import * as api from '../api.js';
import { h, clear, chip, toast } from '../dom.js';
import { t } from '../i18n.js';

// i18n-keys: presence.available presence.busy presence.away
const PRESENCE = ['available', 'busy', 'away'];
const TONE = { available: 'ok', busy: 'warn', away: 'muted' };
/** How often an open viewer renews the engineer's presence lease (the broker's is 120 s). */
const LEASE_RENEW_MS = 30_000;
/** @type {any} the renewal timer of the header's presence switch (one at a time) */
let leaseTimer = null;

/** @returns {Promise<any[]>} engineers with presence and load (GET /presence) */
export async function engineers() {
  return api.listOf(await api.request('GET', '/presence'), 'engineers');
}

/**
 * The header's presence switch (engineers): what they set, and "busy" when derived.
 * @param {any} app
 * @returns {HTMLElement}
 */
export function presenceControl(app) {
  const sel = h('select', { id: 'presence-select', 'aria-label': t('presence.label') },
    PRESENCE.map((p) => h('option', { value: p, text: t(`presence.${p}`) })));
  const derived = h('span', { id: 'presence-effective', class: 'chip chip-muted', hidden: true });
  const paint = (me) => {
    sel.value = me.set;
    sel.dataset.presence = me.presence;
    derived.hidden = me.presence === me.set;
    derived.textContent = t('presence.derived_busy', { count: me.live_sessions });
    derived.className = `chip chip-${TONE[me.presence] || 'muted'}`;
  };
  api.request('GET', '/me/presence').then(paint).catch(() => { sel.disabled = true; });
  // The presence lease: while this page is open it tells the broker every 30 s that the
  // engineer is here; a closed browser stops, and routing then treats them as away.
  clearInterval(leaseTimer);
  leaseTimer = setInterval(() => {
    if (!sel.isConnected) { clearInterval(leaseTimer); return; }
    api.request('GET', '/me/presence').then(paint).catch(() => {});
  }, LEASE_RENEW_MS);
  sel.addEventListener('change', async () => {
    try {
      paint(await api.request('PUT', '/me/presence', { status: sel.value }));
      toast(t('presence.changed', { status: t(`presence.${sel.value}`) }), 'info');
    } catch (e) { app.fail(e); }
  });
  return h('label', { class: 'presence-switch', id: 'presence' },
    h('span', { class: 'visually-hidden', text: t('presence.label') }), sel, derived);
}

/**
 * Pending transfers and invitations to the signed-in engineer, each with a join button.
 * @param {any} app
 * @returns {{el: HTMLElement, refresh: () => Promise<void>}}
 */
export function handoverPanel(app) {
  const list = h('ul', { class: 'handover-list', id: 'handover-list' });
  const el = h('section', { class: 'panel', id: 'handovers', hidden: true },
    h('div', { class: 'panel-head' }, h('h2', { text: t('handover.mine.title') }),
      h('span', { class: 'muted', text: t('handover.mine.hint') })), list);
  const refresh = async () => {
    const found = api.listOf(await api.request('GET', '/me/handovers'), 'handovers');
    clear(list);
    el.hidden = !found.length;
    for (const ho of found) {
      const join = h('button', { type: 'button', class: 'btn btn-primary join-handover', text: t('handover.join'), dataset: { session: ho.session_id } });
      join.addEventListener('click', () => app.navigate(`#/session/${encodeURIComponent(ho.session_id)}`));
      const what = ho.kind === 'transfer'
        ? t('handover.mine.transfer', { name: ho.from.name, title: ho.title })
        : t('handover.mine.invite', { name: ho.from.name, title: ho.title });
      list.appendChild(h('li', { class: 'handover-item', dataset: { kind: ho.kind, session: ho.session_id } },
        chip(t(`handover.kind.${ho.kind}`), ho.kind === 'transfer' ? 'accent' : 'info'), // i18n-keys: handover.kind.transfer handover.kind.invite
        h('span', { class: 'handover-text', text: what }), join));
    }
  };
  return { el, refresh };
}

/**
 * The first line's control on a queue item: assign to an engineer, or back to routing.
 * @param {any} item queue item (pages/queue.js queueItem)
 * @param {any[]} staff engineers (GET /presence)
 * @param {any} app
 * @param {() => void} done reload the queue
 * @returns {HTMLElement}
 */
export function assignControl(item, staff, app, done) {
  const id = `assign-${item.sessionId}`;
  const sel = h('select', { id, class: 'assign-select', 'aria-label': t('assign.label', { title: item.title || item.client }) },
    h('option', { value: '', text: t('assign.routing') }),
    staff.map((e) => h('option', { value: e.user_id, text: t('assign.option', { name: e.name, presence: t(`presence.${e.presence}`), load: e.load }) })));
  sel.value = item.assignedTo || '';
  const btn = h('button', { type: 'button', class: 'btn btn-secondary btn-sm assign', text: t('assign.button'), dataset: { session: item.sessionId } });
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    try {
      await api.request('POST', `/sessions/${encodeURIComponent(item.sessionId)}/assign`, sel.value ? { engineer_id: sel.value } : {});
      toast(sel.value ? t('assign.done', { name: sel.selectedOptions[0].textContent }) : t('assign.done_routing'), 'info');
      done();
    } catch (e) { app.fail(e); } finally { btn.disabled = false; }
  });
  return h('div', { class: 'assign-control' }, sel, btn);
}

/**
 * The session page's "hand over" section: transfer to an engineer or a skill group, or
 * invite a colleague. The client consents to the new engineer by name (G2).
 * @param {string} sessionId
 * @param {any} app
 * @returns {HTMLElement}
 */
export function transferSection(sessionId, app) {
  const who = h('select', { id: 'handover-engineer', 'aria-label': t('handover.engineer') },
    h('option', { value: '', text: t('handover.pick') }));
  const group = h('input', { id: 'handover-group', maxlength: '64', 'aria-label': t('handover.group'), placeholder: t('handover.group.placeholder') });
  const transfer = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', id: 'btn-transfer', text: t('handover.transfer') });
  const invite = h('button', { type: 'button', class: 'btn btn-ghost btn-sm', id: 'btn-invite', text: t('handover.invite') });
  const status = h('p', { class: 'muted small', id: 'handover-status', role: 'status' });
  engineers().then((list) => {
    for (const e of list) {
      if (app.user && e.user_id === app.user.id) continue;
      who.appendChild(h('option', { value: e.user_id, text: t('assign.option', { name: e.name, presence: t(`presence.${e.presence}`), load: e.load }) }));
    }
  }).catch(() => { /* the list stays empty: a group still works */ });
  const ask = async (kind) => {
    const body = kind === 'invite' || who.value ? { engineer_id: who.value } : { group: group.value.trim() };
    if (!body.engineer_id && !body.group) { status.textContent = t('handover.need_target'); return; }
    try {
      const ho = await api.request('POST', `/sessions/${encodeURIComponent(sessionId)}/${kind}`, body);
      status.textContent = kind === 'transfer'
        ? t('handover.asked_transfer', { name: ho.to.name })
        : t('handover.asked_invite', { name: ho.to.name });
    } catch (e) { status.textContent = e.message; }
  };
  transfer.addEventListener('click', () => ask('transfer'));
  invite.addEventListener('click', () => ask('invite'));
  return h('div', { class: 'sidebar-section handover-box', id: 'handover-box' },
    h('h3', { text: t('handover.title') }),
    h('p', { class: 'muted small', text: t('handover.hint') }),
    who, group, h('div', { class: 'form-actions' }, transfer, invite), status);
}
